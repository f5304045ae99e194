"""The REST API (``/api/v10/...``): the routes our gateway and discord.py call.

Every route goes through one pipeline — parse body (JSON or multipart with
``payload_json`` and ``files[n]``), Cloudflare ban check, bot-token check, injected
faults, global limit, the route's bucket, the handler — and every answer carries the
bucket's ``X-RateLimit-*`` headers and is recorded. Handlers are thin: they read the
request and call :class:`~cephalon_devkit.discord.state.World` or
:class:`~cephalon_devkit.discord.interactions.Interactions`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import structlog
from aiohttp import BodyPartReader, web

from cephalon_devkit.discord import permissions as perms
from cephalon_devkit.discord.errors import ApiError, RateLimitExceeded, unauthorized
from cephalon_devkit.discord.interactions import Interactions
from cephalon_devkit.discord.payloads import (
    application_payload,
    channel_payload,
    command_payload,
    guild_payload,
    member_payload,
    message_payload,
    role_payload,
    user_payload,
)
from cephalon_devkit.discord.ratelimit import RateLimiter, limited_headers, rate_limited_body
from cephalon_devkit.discord.recording import RecordedRequest
from cephalon_devkit.discord.state import Application, Upload, World

API_PREFIX = "/api/v10"
DISCONNECTED = 499
"""Recorded status of a request whose connection the emulator dropped (no answer)."""
JSON_TYPE = "application/json"
CLOUDFLARE_BAN_HTML = (
    "<!DOCTYPE html><html><head><title>Access denied | discord.com used Cloudflare to "
    "restrict access</title></head><body>Error 1015: You are being rate limited.</body></html>"
)


@dataclass
class Fault:
    """What the test wants instead of the normal answer, for the next ``times``
    matching requests (``None``: all of them).

    ``route`` is a route name (``create_message``) or ``None`` for any route.
    ``kind="answer"`` replies ``status`` instead of running the route; ``status=429``
    is a proper rate limit (``scope``: ``user``, ``global`` or ``shared``; shared ones
    are not counted as invalid, as on Discord). ``kind="delay"`` waits ``delay``
    seconds and then serves the request normally (a slow Discord).
    ``kind="disconnect"`` drops the connection without an answer (the client sees a
    server disconnect; whether the request took effect is unknown to it — here it
    did not).
    """

    route: str | None
    status: int = 429
    times: int | None = 1
    kind: str = "answer"
    delay: float = 0.0
    retry_after: float = 0.5
    scope: str = "user"
    code: int = 0
    message: str = "injected by the emulator"
    used: int = 0


@dataclass
class Call:
    request: web.Request
    params: dict[str, str]
    body: Any
    uploads: list[Upload]
    query: dict[str, str]
    app: Application
    """The application whose bot token authorised the request (the primary one on
    routes without a token: interaction callbacks and webhooks)."""

    @property
    def actor(self) -> int:
        """The bot user acting."""
        return self.app.bot_id

    def int_param(self, name: str) -> int:
        try:
            return int(self.params[name])
        except ValueError as e:
            raise ApiError(404, 0, "404: Not Found") from e


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Awaitable[Reply] | Reply]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    name: str
    major: str | None = None
    auth: bool = True
    global_limit: bool = True


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with Content-Type exactly ``application/json`` (discord.py parses only that)."""
    if body is None:
        return web.Response(status=204 if status == 200 else status, headers=headers)
    return web.Response(
        status=status, body=json.dumps(body).encode(), content_type=JSON_TYPE, headers=headers
    )


async def read_body(request: web.Request) -> tuple[Any, list[Upload]]:
    if not request.can_read_body:
        return None, []
    ctype = request.content_type
    if ctype.startswith("multipart/"):
        payload: Any = None
        uploads: list[Upload] = []
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                continue
            name = part.name
            data = await part.read()
            if name == "payload_json":
                payload = json.loads(data)
            elif name and name.startswith("files"):
                uploads.append(
                    Upload(
                        filename=part.filename or "file",
                        content_type=part.headers.get("Content-Type"),
                        data=bytes(data),
                    )
                )
        return payload, uploads
    raw = await request.read()
    if not raw:
        return None, []
    return json.loads(raw), []


class RestApi:
    def __init__(
        self,
        world: World,
        interactions: Interactions,
        limiter: RateLimiter,
        *,
        gateway_url: Callable[[], str],
        session_starts: Callable[[int], int],
        record: Callable[[RecordedRequest], None],
        recorded: Callable[[RecordedRequest], None],
    ) -> None:
        self.world = world
        self.interactions = interactions
        self.limiter = limiter
        self._gateway_url = gateway_url
        self._session_starts = session_starts
        self._record = record
        self._recorded = recorded
        self.faults: list[Fault] = []
        self._log = structlog.get_logger("cephalon_devkit.discord.rest")
        self._seq = 0
        self.routes: list[tuple[Route, Handler]] = self._routes()

    # --- wiring ---------------------------------------------------------------------

    def add_to(self, app: web.Application) -> None:
        for route, handler in self.routes:
            app.router.add_route(
                route.method, API_PREFIX + route.path, self._endpoint(route, handler)
            )
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._unknown)

    def _routes(self) -> list[tuple[Route, Handler]]:
        R = Route
        ch, gu, wh = "channel_id", "guild_id", "webhook_token"
        app_cmds = "/applications/{application_id}/commands"
        guild_cmds = "/applications/{application_id}/guilds/{guild_id}/commands"
        hook = "/webhooks/{application_id}/{webhook_token}"
        reaction = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"
        pins = "/channels/{channel_id}/messages/pins"
        return [
            (R("GET", "/gateway", "get_gateway", auth=False), self.get_gateway),
            (R("GET", "/gateway/bot", "get_gateway_bot"), self.get_gateway_bot),
            (R("GET", "/users/@me", "get_current_user"), self.get_current_user),
            (R("GET", "/users/{user_id}", "get_user"), self.get_user),
            (R("GET", "/oauth2/applications/@me", "get_application"), self.get_application),
            (R("GET", "/applications/@me", "get_application"), self.get_application),
            (R("GET", app_cmds, "list_commands"), self.list_commands),
            (R("POST", app_cmds, "create_command"), self.create_command),
            (R("PUT", app_cmds, "bulk_overwrite_commands"), self.bulk_overwrite_commands),
            (R("GET", app_cmds + "/{command_id}", "get_command"), self.get_command),
            (R("PATCH", app_cmds + "/{command_id}", "edit_command"), self.edit_command),
            (R("DELETE", app_cmds + "/{command_id}", "delete_command"), self.delete_command),
            (R("GET", guild_cmds, "list_commands", gu), self.list_commands),
            (R("POST", guild_cmds, "create_command", gu), self.create_command),
            (R("PUT", guild_cmds, "bulk_overwrite_commands", gu), self.bulk_overwrite_commands),
            (R("GET", guild_cmds + "/{command_id}", "get_command", gu), self.get_command),
            (R("PATCH", guild_cmds + "/{command_id}", "edit_command", gu), self.edit_command),
            (R("DELETE", guild_cmds + "/{command_id}", "delete_command", gu), self.delete_command),
            (
                R(
                    "POST",
                    "/interactions/{interaction_id}/{interaction_token}/callback",
                    "interaction_callback",
                    "interaction_id",
                    auth=False,
                    global_limit=False,
                ),
                self.interaction_callback,
            ),
            (
                R("POST", hook, "execute_webhook", wh, auth=False, global_limit=False),
                self.execute_webhook,
            ),
            (
                R(
                    "GET",
                    hook + "/messages/{message_id}",
                    "get_webhook_message",
                    wh,
                    auth=False,
                    global_limit=False,
                ),
                self.get_webhook_message,
            ),
            (
                R(
                    "PATCH",
                    hook + "/messages/{message_id}",
                    "edit_webhook_message",
                    wh,
                    auth=False,
                    global_limit=False,
                ),
                self.edit_webhook_message,
            ),
            (
                R(
                    "DELETE",
                    hook + "/messages/{message_id}",
                    "delete_webhook_message",
                    wh,
                    auth=False,
                    global_limit=False,
                ),
                self.delete_webhook_message,
            ),
            (R("GET", "/guilds/{guild_id}", "get_guild", gu), self.get_guild),
            (
                R("GET", "/guilds/{guild_id}/channels", "list_guild_channels", gu),
                self.list_guild_channels,
            ),
            (
                R("POST", "/guilds/{guild_id}/channels", "create_guild_channel", gu),
                self.create_guild_channel,
            ),
            (
                R("PATCH", "/guilds/{guild_id}/channels", "edit_channel_positions", gu),
                self.edit_channel_positions,
            ),
            (R("GET", "/guilds/{guild_id}/members", "list_members", gu), self.list_members),
            (R("GET", "/guilds/{guild_id}/members/{user_id}", "get_member", gu), self.get_member),
            (R("GET", "/guilds/{guild_id}/roles", "list_roles", gu), self.list_roles),
            (R("GET", "/channels/{channel_id}", "get_channel", ch), self.get_channel),
            (R("PATCH", "/channels/{channel_id}", "edit_channel", ch), self.edit_channel),
            (R("DELETE", "/channels/{channel_id}", "delete_channel", ch), self.delete_channel),
            (
                R("PUT", "/channels/{channel_id}/permissions/{overwrite_id}", "put_overwrite", ch),
                self.put_overwrite,
            ),
            (
                R(
                    "DELETE",
                    "/channels/{channel_id}/permissions/{overwrite_id}",
                    "delete_overwrite",
                    ch,
                ),
                self.delete_overwrite,
            ),
            (R("POST", "/channels/{channel_id}/typing", "typing", ch), self.typing),
            (R("GET", "/channels/{channel_id}/messages", "list_messages", ch), self.list_messages),
            (R("GET", pins, "list_pins", ch), self.list_pins),
            (R("PUT", pins + "/{message_id}", "pin_message", ch), self.pin_message),
            (R("DELETE", pins + "/{message_id}", "unpin_message", ch), self.unpin_message),
            (
                R("POST", "/channels/{channel_id}/messages", "create_message", ch),
                self.create_message,
            ),
            (
                R("GET", "/channels/{channel_id}/messages/{message_id}", "get_message", ch),
                self.get_message,
            ),
            (
                R("PATCH", "/channels/{channel_id}/messages/{message_id}", "edit_message", ch),
                self.edit_message,
            ),
            (
                R("DELETE", "/channels/{channel_id}/messages/{message_id}", "delete_message", ch),
                self.delete_message,
            ),
            (R("PUT", reaction, "add_reaction", ch), self.add_reaction),
            (R("DELETE", reaction, "remove_own_reaction", ch), self.remove_own_reaction),
        ]

    # --- the pipeline ---------------------------------------------------------------

    def _new_record(self, request: web.Request, name: str) -> RecordedRequest:
        self._seq += 1
        rec = RecordedRequest(
            seq=self._seq,
            method=request.method,
            path=request.path,
            route=name,
            query=dict(request.query),
        )
        self._record(rec)
        return rec

    async def _unknown(self, request: web.Request) -> web.Response:
        rec = self._new_record(request, "unknown")
        rec.status = 404
        rec.error_code = 0
        self._recorded(rec)
        return json_response(404, {"message": "404: Not Found", "code": 0})

    def _endpoint(
        self, route: Route, handler: Handler
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def endpoint(request: web.Request) -> web.Response:
            rec = self._new_record(request, route.name)
            started = time.monotonic()
            try:
                response = await self._run(route, handler, request, rec)
            finally:
                rec.duration = time.monotonic() - started
            rec.status = response.status
            scope = response.headers.get("X-RateLimit-Scope")
            if rec.status == 429 and rec.rate_limit_scope is None:
                rec.rate_limit_scope = scope
            if rec.rate_limit_scope != "cloudflare":
                self.limiter.count_invalid(rec.status, rec.rate_limit_scope)
            self._recorded(rec)
            return response

        return endpoint

    async def _run(
        self, route: Route, handler: Handler, request: web.Request, rec: RecordedRequest
    ) -> web.Response:
        if self.limiter.banned():
            rec.rate_limit_scope = "cloudflare"
            return web.Response(status=429, text=CLOUDFLARE_BAN_HTML, content_type="text/html")
        try:
            body, uploads = await read_body(request)
        except web.HTTPRequestEntityTooLarge:
            rec.error_code = 40005
            return json_response(413, {"message": "Request entity too large", "code": 40005})
        except ValueError:
            rec.error_code = 50109
            return json_response(
                400, {"message": "The request body contains invalid JSON.", "code": 50109}
            )
        rec.body = body
        rec.files = len(uploads)
        reason = request.headers.get("X-Audit-Log-Reason")
        rec.audit_log_reason = unquote(reason) if reason else None
        auth = request.headers.get("Authorization", "")
        app = (
            self.world.app_by_token(auth.removeprefix("Bot ")) if auth.startswith("Bot ") else None
        )
        if route.auth and app is None:
            err = unauthorized()
            rec.error_code = err.code
            return json_response(err.status, err.body())
        fault = self._take_fault(route.name)
        if fault is not None:
            rec.fault = fault.kind
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.kind == "disconnect":
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=DISCONNECTED)
            if fault.kind == "answer":
                return self._fault_response(fault, rec)
        owner = str(app.id) if app is not None else ""
        if route.global_limit:
            verdict = self.limiter.take_global(owner=owner)
            if not verdict.allowed:
                return json_response(
                    429, rate_limited_body(verdict.retry_after, is_global=True), verdict.headers
                )
        major = request.match_info.get(route.major, "") if route.major else ""
        verdict = self.limiter.take(route.name, major, owner=owner)
        rec.bucket = verdict.headers.get("X-RateLimit-Bucket")
        if not verdict.allowed:
            return json_response(
                429, rate_limited_body(verdict.retry_after, is_global=False), verdict.headers
            )
        call = Call(
            request=request,
            params=dict(request.match_info),
            body=body,
            uploads=uploads,
            query=dict(request.query),
            app=app or self.world.app,
        )
        try:
            result = handler(call)
            reply = await result if not isinstance(result, Reply) else result
        except ApiError as e:
            rec.error_code = e.code
            return json_response(e.status, e.body(), verdict.headers)
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            # A body or query of the wrong shape: Discord answers 400, not 500.
            self._log.info("discord_rest_bad_request", route=route.name, error=repr(e))
            rec.error_code = 50035
            body = {
                "message": "Invalid Form Body",
                "code": 50035,
                "errors": {
                    "_errors": [{"code": "BASE_TYPE_INVALID", "message": "Invalid request body."}]
                },
            }
            return json_response(400, body, verdict.headers)
        except RateLimitExceeded as e:
            headers = dict(verdict.headers)
            headers.update(limited_headers(e.retry_after, "user", is_global=False))
            limited = rate_limited_body(e.retry_after, is_global=False)
            limited["message"] = e.message
            if e.code is not None:
                limited["code"] = e.code
                rec.error_code = e.code
            return json_response(429, limited, headers)
        return json_response(reply.status, reply.body, {**verdict.headers, **reply.headers})

    def _take_fault(self, name: str) -> Fault | None:
        for f in self.faults:
            if (f.route is None or f.route == name) and (f.times is None or f.used < f.times):
                f.used += 1
                return f
        return None

    def _fault_response(self, f: Fault, rec: RecordedRequest) -> web.Response:
        if f.status == 429:
            rec.rate_limit_scope = f.scope
            is_global = f.scope == "global"
            return json_response(
                429,
                rate_limited_body(f.retry_after, is_global=is_global),
                limited_headers(f.retry_after, f.scope, is_global=is_global),
            )
        rec.error_code = f.code
        return json_response(f.status, {"message": f.message, "code": f.code})

    # --- meta -----------------------------------------------------------------------

    def get_gateway(self, call: Call) -> Reply:
        return Reply(body={"url": self._gateway_url()})

    def get_gateway_bot(self, call: Call) -> Reply:
        limits = self.world.limits
        return Reply(
            body={
                "url": self._gateway_url(),
                "shards": 1,
                "session_start_limit": {
                    "total": limits.session_start_limit,
                    "remaining": max(
                        0, limits.session_start_limit - self._session_starts(call.actor)
                    ),
                    "reset_after": 86_400_000,
                    "max_concurrency": limits.identify_max_concurrency,
                },
            }
        )

    def get_current_user(self, call: Call) -> Reply:
        bot = user_payload(self.world.users[call.actor])
        return Reply(body={**bot, "verified": True, "mfa_enabled": False, "locale": "en-US"})

    def get_user(self, call: Call) -> Reply:
        return Reply(body=user_payload(self.world.user(call.int_param("user_id"))))

    def get_application(self, call: Call) -> Reply:
        owner = next((u for u in self.world.users.values() if not u.bot), self.world.bot)
        return Reply(body=application_payload(self.world, call.app, owner=owner))

    # --- application commands -------------------------------------------------------

    def _command_scope(self, call: Call) -> int | None:
        if call.int_param("application_id") != call.app.id:
            raise ApiError(403, 50001, "Missing Access")
        if "guild_id" in call.params:
            return self.world.guild(call.int_param("guild_id")).id
        return None

    def list_commands(self, call: Call) -> Reply:
        scope = self._command_scope(call)
        return Reply(
            body=[command_payload(c) for c in self.world.commands_for(scope, app_id=call.app.id)]
        )

    def create_command(self, call: Call) -> Reply:
        scope = self._command_scope(call)
        cmd, created = self.world.upsert_command(scope, call.body or {}, app_id=call.app.id)
        return Reply(status=201 if created else 200, body=command_payload(cmd))

    def bulk_overwrite_commands(self, call: Call) -> Reply:
        scope = self._command_scope(call)
        cmds = self.world.bulk_overwrite_commands(scope, call.body, app_id=call.app.id)
        return Reply(body=[command_payload(c) for c in cmds])

    def _command(self, call: Call) -> Any:
        scope = self._command_scope(call)
        cmd = self.world.commands.get(call.int_param("command_id"))
        if cmd is None or cmd.guild_id != scope or cmd.application_id != call.app.id:
            raise ApiError(404, 10063, "Unknown application command")
        return cmd

    def get_command(self, call: Call) -> Reply:
        return Reply(body=command_payload(self._command(call)))

    def edit_command(self, call: Call) -> Reply:
        cmd = self._command(call)
        merged = {**command_payload(cmd), **(call.body or {})}
        updated, _ = self.world.upsert_command(cmd.guild_id, merged, app_id=call.app.id)
        return Reply(body=command_payload(updated))

    def delete_command(self, call: Call) -> Reply:
        cmd = self._command(call)
        self.world.delete_command(cmd.guild_id, cmd.id, app_id=call.app.id)
        return Reply(status=204)

    # --- interactions and their webhook ---------------------------------------------

    def interaction_callback(self, call: Call) -> Reply:
        try:
            interaction_id = int(call.params["interaction_id"])
        except ValueError as e:
            raise ApiError(404, 10062, "Unknown interaction") from e
        i = self.interactions.by_id.get(interaction_id)
        try:
            i = self.interactions.find(interaction_id, call.params["interaction_token"])
            message = self.interactions.respond(i, call.body or {}, call.uploads, via="callback")
        except ApiError as e:
            if i is not None:
                i.callback_attempts.append((i.age, e.status))
            raise
        i.callback_attempts.append((i.age, 200))
        if call.query.get("with_response") not in ("1", "true", "True"):
            return Reply(status=204)
        body: dict[str, Any] = {
            "interaction": {
                "id": str(i.id),
                "type": i.type,
                "response_message_id": str(message.id) if message else None,
                "response_message_loading": bool(i.response_type == 5),
                "response_message_ephemeral": bool(message and message.visible_to is not None),
            }
        }
        if message is not None:
            body["resource"] = {
                "type": i.response_type,
                "message": message_payload(self.world, message),
            }
        return Reply(body=body)

    def _hook(self, call: Call) -> Any:
        try:
            app_id = int(call.params["application_id"])
        except ValueError as e:
            raise ApiError(401, 50027, "Invalid Webhook Token") from e
        return self.interactions.by_webhook(app_id, call.params["webhook_token"])

    def execute_webhook(self, call: Call) -> Reply:
        i = self._hook(call)
        m = self.interactions.followup(i, call.body or {}, call.uploads)
        if call.query.get("wait") in ("1", "true", "True"):
            return Reply(body=message_payload(self.world, m))
        return Reply(status=204)

    def get_webhook_message(self, call: Call) -> Reply:
        i = self._hook(call)
        return Reply(
            body=message_payload(
                self.world, self.interactions.message_of(i, call.params["message_id"])
            )
        )

    def edit_webhook_message(self, call: Call) -> Reply:
        i = self._hook(call)
        m = self.interactions.edit(i, call.params["message_id"], call.body or {}, call.uploads)
        return Reply(body=message_payload(self.world, m))

    def delete_webhook_message(self, call: Call) -> Reply:
        i = self._hook(call)
        self.interactions.delete(i, call.params["message_id"])
        return Reply(status=204)

    # --- guilds ---------------------------------------------------------------------

    def _bot_guild(self, call: Call) -> Any:
        g = self.world.guild(call.int_param("guild_id"))
        if call.actor not in g.members:
            raise ApiError(403, 50001, "Missing Access")
        return g

    def get_guild(self, call: Call) -> Reply:
        g = self._bot_guild(call)
        body: dict[str, Any] = dict(guild_payload(self.world, g))
        if call.query.get("with_counts") in ("true", "1"):
            body["approximate_member_count"] = len(g.members)
            body["approximate_presence_count"] = 0
        return Reply(body=body)

    def list_guild_channels(self, call: Call) -> Reply:
        g = self._bot_guild(call)
        return Reply(body=[channel_payload(c) for c in self.world.guild_channels(g.id)])

    def create_guild_channel(self, call: Call) -> Reply:
        g = self._bot_guild(call)
        c = self.world.create_channel(g.id, call.actor, call.body or {})
        return Reply(status=201, body=channel_payload(c))

    def edit_channel_positions(self, call: Call) -> Reply:
        g = self._bot_guild(call)
        self.world.move_channels(g.id, call.actor, call.body)
        return Reply(status=204)

    def list_members(self, call: Call) -> Reply:
        g = self._bot_guild(call)
        limit = min(int(call.query.get("limit", "1")), 1000)
        after = int(call.query.get("after", "0"))
        members = sorted(
            (m for m in g.members.values() if m.user_id > after), key=lambda m: m.user_id
        )[:limit]
        return Reply(body=[member_payload(self.world, m) for m in members])

    def get_member(self, call: Call) -> Reply:
        g = self._bot_guild(call)
        return Reply(
            body=member_payload(self.world, self.world.member(g.id, call.int_param("user_id")))
        )

    def list_roles(self, call: Call) -> Reply:
        g = self._bot_guild(call)
        return Reply(body=[role_payload(r) for r in g.roles.values()])

    # --- channels -------------------------------------------------------------------

    def _visible_channel(self, call: Call) -> Any:
        c = self.world.channel(call.int_param("channel_id"))
        if not self.world.can_view(c.id, call.actor):
            raise ApiError(403, 50001, "Missing Access")
        return c

    def get_channel(self, call: Call) -> Reply:
        return Reply(body=channel_payload(self._visible_channel(call)))

    def edit_channel(self, call: Call) -> Reply:
        c = self._visible_channel(call)
        body = call.body or {}
        renaming = ("name" in body and body["name"] != c.name) or (
            "topic" in body and body["topic"] != c.topic
        )
        if renaming:
            left, retry = self.world.renames_left(c.id, time.monotonic())
            if left <= 0:
                raise RateLimitExceeded(retry)
        return Reply(body=channel_payload(self.world.edit_channel(c.id, call.actor, body)))

    def delete_channel(self, call: Call) -> Reply:
        c = self._visible_channel(call)
        return Reply(body=channel_payload(self.world.delete_channel(c.id, call.actor)))

    def put_overwrite(self, call: Call) -> Reply:
        c = self._visible_channel(call)
        self.world.put_overwrite(c.id, call.actor, call.int_param("overwrite_id"), call.body or {})
        return Reply(status=204)

    def delete_overwrite(self, call: Call) -> Reply:
        c = self._visible_channel(call)
        self.world.delete_overwrite(c.id, call.actor, call.int_param("overwrite_id"))
        return Reply(status=204)

    def typing(self, call: Call) -> Reply:
        c = self._visible_channel(call)
        self.world.require(c.id, call.actor, perms.SEND_MESSAGES)
        self.world.typing[c.id] = time.monotonic()
        return Reply(status=204)

    # --- messages -------------------------------------------------------------------

    def list_messages(self, call: Call) -> Reply:
        c = self._visible_channel(call)
        self.world.require(c.id, call.actor, perms.READ_MESSAGE_HISTORY)
        limit = max(1, min(int(call.query.get("limit", "50")), 100))
        msgs = [m for m in self.world.live_messages(c.id) if m.visible_to is None]
        if "before" in call.query:
            msgs = [m for m in msgs if m.id < int(call.query["before"])]
        if "after" in call.query:
            msgs = [m for m in msgs if m.id > int(call.query["after"])][:limit]
        msgs = sorted(msgs, key=lambda m: m.id, reverse=True)[:limit]
        return Reply(body=[message_payload(self.world, m) for m in msgs])

    def get_message(self, call: Call) -> Reply:
        c = self._visible_channel(call)
        self.world.require(c.id, call.actor, perms.READ_MESSAGE_HISTORY)
        m = self.world.message(c.id, call.int_param("message_id"))
        return Reply(body=message_payload(self.world, m))

    def create_message(self, call: Call) -> Reply:
        c = self._visible_channel(call)
        m, _ = self.world.create_message(c.id, call.actor, call.body or {}, call.uploads)
        return Reply(body=message_payload(self.world, m))

    def edit_message(self, call: Call) -> Reply:
        c = self._visible_channel(call)
        m = self.world.edit_message(
            c.id, call.int_param("message_id"), call.actor, call.body or {}, call.uploads
        )
        return Reply(body=message_payload(self.world, m))

    def delete_message(self, call: Call) -> Reply:
        c = self._visible_channel(call)
        self.world.delete_message(c.id, call.int_param("message_id"), call.actor)
        return Reply(status=204)

    def add_reaction(self, call: Call) -> Reply:
        c = self._visible_channel(call)
        self.world.require(c.id, call.actor, perms.READ_MESSAGE_HISTORY)
        self.world.react(c.id, call.int_param("message_id"), call.actor, call.params["emoji"])
        return Reply(status=204)

    def remove_own_reaction(self, call: Call) -> Reply:
        c = self._visible_channel(call)
        self.world.react(
            c.id, call.int_param("message_id"), call.actor, call.params["emoji"], add=False
        )
        return Reply(status=204)

    # --- pins -----------------------------------------------------------------------

    def list_pins(self, call: Call) -> Reply:
        c = self._visible_channel(call)
        self.world.require(c.id, call.actor, perms.READ_MESSAGE_HISTORY)
        pinned = sorted(
            (m for m in self.world.live_messages(c.id) if m.pinned_at is not None),
            key=lambda m: m.pinned_at or "",
            reverse=True,
        )
        items = [
            {"pinned_at": m.pinned_at, "message": message_payload(self.world, m)} for m in pinned
        ]
        return Reply(body={"items": items, "has_more": False})

    def pin_message(self, call: Call) -> Reply:
        c = self._visible_channel(call)
        self.world.pin(c.id, call.int_param("message_id"), call.actor, pinned=True)
        return Reply(status=204)

    def unpin_message(self, call: Call) -> Reply:
        c = self._visible_channel(call)
        self.world.pin(c.id, call.int_param("message_id"), call.actor, pinned=False)
        return Reply(status=204)
