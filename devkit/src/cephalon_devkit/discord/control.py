"""The user-side API over HTTP (``/_emulator/...``), for local mode and the demo.

It mirrors the Python API of :class:`~cephalon_devkit.discord.server.DiscordEmulator`;
ids are strings in and out, as on Discord's wire. Errors: 400 ``{"error": ...}`` for
misuse, Discord's own error body (and status) when a Discord rule refused the action.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from cephalon_devkit.discord.errors import ApiError, DiscordEmulatorError
from cephalon_devkit.discord.payloads import channel_payload, message_payload, user_payload
from cephalon_devkit.discord.permissions import DEFAULT_BOT
from cephalon_devkit.discord.rest import json_response
from cephalon_devkit.discord.transcript import TranscriptEntry

if TYPE_CHECKING:
    from cephalon_devkit.discord.server import DiscordEmulator
    from cephalon_devkit.discord.state import Application

PREFIX = "/_emulator"

Endpoint = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _guarded(fn: Callable[[web.Request], Awaitable[Any]]) -> Endpoint:
    async def endpoint(request: web.Request) -> web.StreamResponse:
        try:
            result = await fn(request)
        except ApiError as e:
            return json_response(e.status, e.body())
        except (DiscordEmulatorError, KeyError, ValueError, TypeError, binascii.Error) as e:
            return json_response(400, {"error": f"{type(e).__name__}: {e}"})
        if isinstance(result, web.StreamResponse):
            return result
        return json_response(200, result)

    return endpoint


async def _json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    body = await request.json()
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def add_control_routes(app: web.Application, emu: DiscordEmulator) -> None:
    from cephalon_devkit.discord.server import application_info

    world = emu.world

    async def info(request: web.Request) -> Any:
        return emu.connection_info()

    async def state(request: web.Request) -> Any:
        return {
            "users": [user_payload(u) for u in world.users.values()],
            "guilds": [
                {
                    "id": str(g.id),
                    "name": g.name,
                    "owner_id": str(g.owner_id),
                    "roles": {str(r.id): r.name for r in g.roles.values()},
                    "members": [str(m) for m in g.members],
                    "channels": [channel_payload(world.channels[c]) for c in g.channel_ids],
                }
                for g in world.guilds.values()
            ],
        }

    async def create_guild(request: web.Request) -> Any:
        body = await _json(request)
        kwargs: dict[str, Any] = {}
        if "bot_permissions" in body:
            kwargs["bot_permissions"] = int(body["bot_permissions"])
        g = emu.create_guild(str(body["name"]), **kwargs)
        return {"id": str(g.id), "name": g.name, "owner_id": str(g.owner_id)}

    async def create_user(request: web.Request) -> Any:
        body = await _json(request)
        u = emu.create_user(str(body["name"]))
        if body.get("guild_id"):
            emu.add_member(int(body["guild_id"]), u, [int(r) for r in body.get("roles", [])])
        return user_payload(u)

    async def create_role(request: web.Request) -> Any:
        body = await _json(request)
        r = emu.create_role(
            int(request.match_info["guild_id"]), str(body["name"]), int(body.get("permissions", 0))
        )
        return {"id": str(r.id), "name": r.name, "permissions": str(r.permissions)}

    async def add_member(request: web.Request) -> Any:
        body = await _json(request)
        emu.add_member(
            int(request.match_info["guild_id"]),
            int(body["user_id"]),
            [int(r) for r in body.get("roles", [])],
        )
        return {"ok": True}

    async def create_channel(request: web.Request) -> Any:
        body = await _json(request)
        c = emu.create_channel(
            int(request.match_info["guild_id"]),
            str(body["name"]),
            type=int(body.get("type", 0)),
            parent_id=int(body["parent_id"]) if body.get("parent_id") else None,
            overwrites=body.get("permission_overwrites", []),
        )
        return channel_payload(c)

    async def post_message(request: web.Request) -> Any:
        body = await _json(request)
        files = [
            (str(f["filename"]), base64.b64decode(f["content_base64"]), f.get("content_type"))
            for f in body.get("files", [])
        ]
        m = emu.post_message(
            int(request.match_info["channel_id"]),
            int(body["user_id"]),
            str(body.get("content", "")),
            files=files,
        )
        return message_payload(world, m)

    async def member_roles(request: web.Request) -> Any:
        body = await _json(request)
        emu.set_member_roles(
            int(request.match_info["guild_id"]),
            int(request.match_info["user_id"]),
            [int(r) for r in body.get("roles", [])],
        )
        return {"ok": True}

    async def remove_member(request: web.Request) -> Any:
        emu.remove_member(int(request.match_info["guild_id"]), int(request.match_info["user_id"]))
        return {"ok": True}

    async def edit_message(request: web.Request) -> Any:
        body = await _json(request)
        m = emu.edit_message(
            int(request.match_info["message_id"]), int(body["user_id"]), str(body["content"])
        )
        return message_payload(world, m)

    async def delete_message(request: web.Request) -> Any:
        emu.delete_message(int(request.match_info["message_id"]), int(request.query["user_id"]))
        return {"ok": True}

    async def react(request: web.Request) -> Any:
        body = await _json(request)
        emu.react(
            int(request.match_info["message_id"]),
            str(body["emoji"]),
            int(body["user_id"]),
            add=bool(body.get("add", True)),
        )
        return {"ok": True}

    async def click(request: web.Request) -> Any:
        body = await _json(request)
        i = await emu.click_button(
            int(body["message_id"]), str(body["custom_id"]), int(body["user_id"])
        )
        return emu.interaction_summary(i)

    async def command(request: web.Request) -> Any:
        body = await _json(request)
        files = {
            k: (str(v["filename"]), base64.b64decode(v["content_base64"]), v.get("content_type"))
            for k, v in body.get("files", {}).items()
        }
        i = await emu.run_command(
            int(body["channel_id"]),
            int(body["user_id"]),
            str(body["name"]),
            body.get("options") or {},
            files=files,
        )
        return emu.interaction_summary(i)

    async def interactions(request: web.Request) -> Any:
        return [emu.interaction_summary(i) for i in emu.all_interactions]

    def app_of(body: dict[str, Any]) -> Application:
        return world.application(
            int(body["application_id"]) if body.get("application_id") else None
        )

    async def set_endpoint(request: web.Request) -> Any:
        body = await _json(request)
        app = app_of(body)
        emu.set_interactions_url(body.get("url"), app)
        return {"url": app.interactions_url, "application_id": str(app.id)}

    async def create_application(request: web.Request) -> Any:
        body = await _json(request)
        return application_info(emu.create_application(str(body["name"])))

    async def add_bot(request: web.Request) -> Any:
        body = await _json(request)
        role = emu.add_bot(
            int(request.match_info["guild_id"]),
            app_of(body),
            int(body.get("permissions", DEFAULT_BOT)),
        )
        return {"role_id": str(role.id)}

    async def verify_endpoint(request: web.Request) -> Any:
        return {"ok": await emu.verify_endpoint()}

    async def get_transcript(request: web.Request) -> Any:
        cid = int(request.match_info["channel_id"])
        if request.query.get("format") == "text":
            return web.Response(text=emu.render_transcript(cid))
        return [_entry_json(e) for e in emu.transcript(cid)]

    async def all_transcripts(request: web.Request) -> Any:
        return web.Response(text=emu.render_transcript())

    async def requests(request: web.Request) -> Any:
        route = request.query.get("route")
        return [
            {
                "seq": r.seq,
                "method": r.method,
                "path": r.path,
                "route": r.route,
                "status": r.status,
                "error_code": r.error_code,
                "scope": r.rate_limit_scope,
                "duration": r.duration,
                "started_at": r.started_at,
            }
            for r in emu.requests
            if route is None or r.route == route
        ]

    async def dispatches(request: web.Request) -> Any:
        return [
            {
                "session_id": d.session_id,
                "seq": d.seq,
                "event": d.event,
                "replayed": d.replayed,
                "at": d.at,
            }
            for d in emu.dispatches
        ]

    async def invalid(request: web.Request) -> Any:
        return {
            "count": emu.invalid_request_count,
            "total": emu.invalid_requests_total,
            "limit": emu.limits.invalid_request_limit,
            "window": emu.limits.invalid_request_window,
        }

    async def faults(request: web.Request) -> Any:
        body = await _json(request)
        status = int(body.get("status", 429))
        if status == 429:
            f = emu.inject_rate_limit(
                body.get("route"),
                times=int(body.get("times", 1)),
                retry_after=float(body.get("retry_after", 0.5)),
                scope=str(body.get("scope", "user")),
            )
        else:
            f = emu.inject_error(
                body.get("route"),
                status,
                code=int(body.get("code", 0)),
                times=int(body.get("times", 1)),
            )
        return {"route": f.route, "status": f.status, "times": f.times}

    async def drop(request: web.Request) -> Any:
        body = await _json(request)
        return {"closed": await emu.drop_gateway_connections(int(body.get("code", 4000)))}

    routes: list[tuple[str, str, Callable[[web.Request], Awaitable[Any]]]] = [
        ("GET", "/info", info),
        ("GET", "/state", state),
        ("POST", "/guilds", create_guild),
        ("POST", "/applications", create_application),
        ("POST", "/guilds/{guild_id}/bots", add_bot),
        ("POST", "/users", create_user),
        ("POST", "/guilds/{guild_id}/roles", create_role),
        ("POST", "/guilds/{guild_id}/members", add_member),
        ("POST", "/guilds/{guild_id}/channels", create_channel),
        ("PUT", "/guilds/{guild_id}/members/{user_id}/roles", member_roles),
        ("DELETE", "/guilds/{guild_id}/members/{user_id}", remove_member),
        ("POST", "/channels/{channel_id}/messages", post_message),
        ("PATCH", "/channels/{channel_id}/messages/{message_id}", edit_message),
        ("DELETE", "/channels/{channel_id}/messages/{message_id}", delete_message),
        ("POST", "/channels/{channel_id}/messages/{message_id}/reactions", react),
        ("POST", "/interactions/button", click),
        ("POST", "/interactions/command", command),
        ("GET", "/interactions", interactions),
        ("PUT", "/interactions/endpoint", set_endpoint),
        ("POST", "/interactions/endpoint/verify", verify_endpoint),
        ("GET", "/channels/{channel_id}/transcript", get_transcript),
        ("GET", "/transcript", all_transcripts),
        ("GET", "/requests", requests),
        ("GET", "/dispatches", dispatches),
        ("GET", "/invalid-requests", invalid),
        ("POST", "/faults", faults),
        ("POST", "/gateway/drop", drop),
    ]
    for method, path, fn in routes:
        app.router.add_route(method, PREFIX + path, _guarded(fn))


def _entry_json(e: TranscriptEntry) -> dict[str, Any]:
    return {
        "message_id": str(e.message_id),
        "author": e.author,
        "author_id": str(e.author_id),
        "bot": e.bot,
        "content": e.content,
        "embeds": e.embeds,
        "buttons": [
            {
                "label": b.label,
                "custom_id": b.custom_id,
                "style": b.style,
                "disabled": b.disabled,
                "url": b.url,
            }
            for b in e.buttons
        ],
        "attachments": e.attachments,
        "edited": e.edited,
        "edits": e.edits,
        "visible_to": str(e.visible_to) if e.visible_to is not None else None,
        "loading": e.loading,
        "reactions": e.reactions,
    }
