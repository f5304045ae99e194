"""The Discord emulator: one aiohttp server with Discord's REST API, its gateway
WebSocket, a CDN for attachments, and a user-side API for tests and local mode.

Point discord.py at it with::

    discord.http.Route.BASE = emulator.api_base                 # http://127.0.0.1:P/api/v10
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(emulator.gateway_url)

and log in with ``emulator.bot_token``. READY names ``emulator.resume_gateway_url``
(local, on a different path, so tests see the client resume where it was told).
Interactions go to :attr:`DiscordEmulator.interactions_url` signed with the key whose
public half is :attr:`DiscordEmulator.public_key`. See ``docs/discord-emulator.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import structlog
from aiohttp import web

from cephalon_devkit.discord import permissions as perms
from cephalon_devkit.discord.errors import ApiError, DiscordEmulatorError
from cephalon_devkit.discord.gateway import PRIVILEGED_INTENTS, Gateway, GatewaySession
from cephalon_devkit.discord.interactions import (
    APPLICATION_COMMAND,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    PING,
    PONG,
    Interaction,
    Interactions,
    button_exists,
)
from cephalon_devkit.discord.limits import DiscordLimits
from cephalon_devkit.discord.payloads import (
    attachment_payload,
    member_payload,
    role_payload,
    user_payload,
)
from cephalon_devkit.discord.ratelimit import RateLimiter
from cephalon_devkit.discord.recording import RecordedDispatch, RecordedRequest
from cephalon_devkit.discord.rest import Fault, RestApi
from cephalon_devkit.discord.state import (
    GUILD_CATEGORY,
    GUILD_TEXT,
    Application,
    Channel,
    Command,
    Dispatch,
    Guild,
    Message,
    Role,
    Upload,
    User,
    World,
)
from cephalon_devkit.discord.transcript import TranscriptEntry, render, transcript
from cephalon_devkit.discord.types import JsonObject
from cephalon_devkit.serving import LoopbackHttpServer

FileSpec = tuple[str, bytes] | tuple[str, bytes, str | None]
"""``(filename, data)`` or ``(filename, data, content_type)``."""


def application_info(app: Application) -> dict[str, Any]:
    """An application's connection details (ids as strings)."""
    return {
        "name": app.name,
        "application_id": str(app.id),
        "bot_user_id": str(app.bot_id),
        "bot_token": app.token,
        "public_key": app.public_key,
        "interactions_url": app.interactions_url,
    }


def new_bot_token() -> str:
    """A token that is obviously fake (and unique per emulator)."""
    return f"fake-bot-token.{secrets.token_hex(12)}"


class DiscordEmulator(LoopbackHttpServer):
    """A local Discord. Use as ``async with DiscordEmulator()``.

    It starts with one bot application (the primary: :attr:`bot`, :attr:`bot_token`,
    :attr:`public_key`, :attr:`application_id`); :meth:`create_application` and
    :meth:`add_bot` add more (one per tenant), each with its own token, key,
    interactions URL, rate limits and gateway sessions, in the same guilds."""

    def __init__(
        self,
        *,
        limits: DiscordLimits | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_token: str | None = None,
        bot_name: str = "Cephalon",
        interactions_url: str | None = None,
        allowed_privileged_intents: int = PRIVILEGED_INTENTS,
    ) -> None:
        super().__init__(host, port)
        self.limits = limits or DiscordLimits()
        self.world = World(
            limits=self.limits, bot_name=bot_name, bot_token=bot_token or new_bot_token()
        )
        self.limiter = RateLimiter(self.limits)
        self.interactions = Interactions(self.world, self.limits)
        self.interactions.endpoint_url = interactions_url
        self._requests: list[RecordedRequest] = []
        self._dispatches: list[RecordedDispatch] = []
        self.gateway = Gateway(
            self.world,
            self.limits,
            resume_url=lambda: self.resume_gateway_url,
            record=self._record_dispatch,
            allowed_privileged_intents=allowed_privileged_intents,
        )
        self.world.set_dispatch_hook(self._on_dispatch)
        self.rest = RestApi(
            self.world,
            self.interactions,
            self.limiter,
            gateway_url=lambda: self.gateway_url,
            session_starts=self.gateway.session_starts_for,
            record=self._requests.append,
            recorded=lambda _r: self._changed(),
        )
        self._tick = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._log = structlog.get_logger("cephalon_devkit.discord")

    # --- lifecycle ------------------------------------------------------------------

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=self.limits.upload_max_bytes * 11)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/resume-gateway", self.gateway.handle)
        app.router.add_get("/cdn/attachments/{channel_id}/{attachment_id}/{filename}", self._cdn)
        from cephalon_devkit.discord.control import add_control_routes

        add_control_routes(app, self)
        self.rest.add_to(app)
        return app

    not_started_error = DiscordEmulatorError

    def on_started(self) -> None:
        self.world.cdn_base = f"{self.url}/cdn"
        self._log.info("discord_emulator_started", url=self.url)

    async def on_stopping(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.gateway.close()
        await self.interactions.close()

    # --- addresses and identity -----------------------------------------------------

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` takes (``.../api/v10``)."""
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """What ``DiscordWebSocket.DEFAULT_GATEWAY`` takes (and GET /gateway/bot names)."""
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/resume-gateway"

    @property
    def bot_token(self) -> str:
        """The primary bot's token (fake, unique per emulator unless one was given)."""
        return self.world.app.token

    @property
    def public_key(self) -> str:
        """Hex Ed25519 public key interactions are signed with (the app's "public key")."""
        return self.interactions.public_key_hex

    @property
    def application_id(self) -> int:
        return self.world.application_id

    @property
    def bot(self) -> User:
        return self.world.bot

    @property
    def interactions_url(self) -> str | None:
        return self.interactions.endpoint_url

    def set_interactions_url(self, url: str | None, app: Application | None = None) -> None:
        """Where interactions are POSTed (the app's "Interactions Endpoint URL")."""
        (app or self.world.app).interactions_url = url

    def create_application(self, name: str, *, token: str | None = None) -> Application:
        """Another bot application (another tenant's bot): its own ``token``,
        ``public_key``, ``interactions_url``, rate limits and gateway sessions. Invite
        its bot with :meth:`add_bot`."""
        return self.world.create_application(name, token=token)

    def add_bot(
        self, guild_id: int, app: Application, permissions: int = perms.DEFAULT_BOT
    ) -> Role:
        """Invite ``app``'s bot into a guild with a managed role holding ``permissions``."""
        return self.world.add_bot(guild_id, app.id, permissions)

    @property
    def applications(self) -> list[Application]:
        return list(self.world.apps.values())

    def connection_info(self) -> dict[str, Any]:
        """Everything a client needs, as written by the CLI's ``--info-file``."""
        return {
            "url": self.url,
            "port": self.port,
            "api_base": self.api_base,
            "gateway_url": self.gateway_url,
            "public_key": self.public_key,
            "application_id": str(self.application_id),
            "bot_user_id": str(self.bot.id),
            "bot_token": self.bot_token,
            "interactions_url": self.interactions_url,
            "applications": [application_info(app) for app in self.world.apps.values()],
        }

    # --- setting the world up -------------------------------------------------------

    def create_user(self, name: str) -> User:
        return self.world.create_user(name)

    def create_guild(
        self,
        name: str,
        *,
        owner: User | None = None,
        bot_permissions: int = perms.DEFAULT_BOT,
        everyone_permissions: int = perms.DEFAULT_EVERYONE,
        app: Application | None = None,
    ) -> Guild:
        """A guild the bot is in (with a managed role holding ``bot_permissions``): the
        primary application's bot, or only ``app``'s when given."""
        return self.world.create_guild(
            name,
            owner_id=owner.id if owner else None,
            app_id=app.id if app else None,
            bot_permissions=bot_permissions,
            everyone_permissions=everyone_permissions,
        )

    def create_role(self, guild_id: int, name: str, permissions: int = 0) -> Role:
        return self.world.create_role(guild_id, name, permissions)

    def add_member(self, guild_id: int, user: User | int, roles: Iterable[Role | int] = ()) -> None:
        uid = user.id if isinstance(user, User) else user
        self.world.add_member(guild_id, uid, [r.id if isinstance(r, Role) else r for r in roles])

    def create_member(self, guild_id: int, name: str, roles: Iterable[Role | int] = ()) -> User:
        """A new user who is a member of ``guild_id``."""
        u = self.world.create_user(name)
        self.add_member(guild_id, u, roles)
        return u

    def set_member_roles(
        self, guild_id: int, user: User | int, roles: Iterable[Role | int]
    ) -> None:
        """Replace a member's roles (GUILD_MEMBER_UPDATE; later interactions carry them)."""
        uid = user.id if isinstance(user, User) else user
        self.world.set_member_roles(
            guild_id, uid, [r.id if isinstance(r, Role) else r for r in roles]
        )

    def remove_member(self, guild_id: int, user: User | int) -> None:
        """The user leaves the guild (GUILD_MEMBER_REMOVE)."""
        self.world.remove_member(guild_id, user.id if isinstance(user, User) else user)

    def set_bot_permissions(
        self, guild_id: int, permissions: int, app: Application | None = None
    ) -> None:
        role = self.world.bot_role(guild_id, app.id if app else None)
        self.world.set_role_permissions(guild_id, role.id, permissions)

    def create_channel(
        self,
        guild_id: int,
        name: str,
        *,
        type: int = GUILD_TEXT,
        parent_id: int | None = None,
        overwrites: Sequence[Mapping[str, Any]] = (),
    ) -> Channel:
        """A channel made by the guild's owner (not counted against the bot)."""
        g = self.world.guild(guild_id)
        body: JsonObject = {
            "name": name,
            "type": type,
            "parent_id": parent_id,
            "permission_overwrites": list(overwrites),
        }
        return self.world.create_channel(guild_id, g.owner_id, body)

    def create_category(self, guild_id: int, name: str) -> Channel:
        return self.create_channel(guild_id, name, type=GUILD_CATEGORY)

    # --- users acting ---------------------------------------------------------------

    def post_message(
        self,
        channel_id: int,
        user: User | int,
        content: str = "",
        *,
        files: Sequence[FileSpec] = (),
        embeds: Sequence[Mapping[str, Any]] = (),
        reply_to: int | None = None,
    ) -> Message:
        """A user posts in a channel (MESSAGE_CREATE goes to the bot); Discord's
        limits and the user's permissions apply."""
        uid = user.id if isinstance(user, User) else user
        uploads = [Upload(f[0], f[2] if len(f) > 2 else None, f[1]) for f in files]
        body: JsonObject = {"content": content, "embeds": [dict(e) for e in embeds]}
        if reply_to is not None:
            body["message_reference"] = {"message_id": str(reply_to)}
        m, _ = self.world.create_message(channel_id, uid, body, uploads)
        return m

    def edit_message(self, message: Message | int, user: User | int, content: str) -> Message:
        """A user edits their own message (MESSAGE_UPDATE to the bot)."""
        m = message if isinstance(message, Message) else self._message(message)
        uid = user.id if isinstance(user, User) else user
        return self.world.edit_message(m.channel_id, m.id, uid, {"content": content})

    def delete_message(self, message: Message | int, user: User | int) -> None:
        """A user deletes a message (their own, or any with MANAGE_MESSAGES)."""
        m = message if isinstance(message, Message) else self._message(message)
        uid = user.id if isinstance(user, User) else user
        self.world.delete_message(m.channel_id, m.id, uid)

    def react(
        self, message: Message | int, emoji: str, user: User | int, *, add: bool = True
    ) -> None:
        """A user adds (or removes) a reaction; MESSAGE_REACTION_ADD/REMOVE follow."""
        m = message if isinstance(message, Message) else self._message(message)
        uid = user.id if isinstance(user, User) else user
        self.world.react(m.channel_id, m.id, uid, emoji, add=add)

    async def click_button(
        self, message: Message | int, custom_id: str, user: User | int, *, wait: bool = True
    ) -> Interaction:
        """A user clicks a button: a signed MESSAGE_COMPONENT interaction is POSTed to
        the endpoint of the application that posted the message. With ``wait``
        (default) returns after the endpoint answered."""
        m = message if isinstance(message, Message) else self._message(message)
        uid = user.id if isinstance(user, User) else user
        if not button_exists(m.components, custom_id):
            raise DiscordEmulatorError(f"message {m.id} has no enabled button {custom_id!r}")
        self._require_view(m.channel_id, uid)
        i = self.interactions.new(
            MESSAGE_COMPONENT,
            user_id=uid,
            channel_id=m.channel_id,
            data={"custom_id": custom_id, "component_type": 2},
            message_id=m.id,
            app_id=self._owning_app(m),
        )
        return await self._deliver(i, wait)

    async def select(
        self,
        message: Message | int,
        custom_id: str,
        values: Sequence[str],
        user: User | int,
        *,
        wait: bool = True,
    ) -> Interaction:
        """A user picks ``values`` in a string select menu."""
        m = message if isinstance(message, Message) else self._message(message)
        uid = user.id if isinstance(user, User) else user
        i = self.interactions.new(
            MESSAGE_COMPONENT,
            user_id=uid,
            channel_id=m.channel_id,
            data={"custom_id": custom_id, "component_type": 3, "values": list(values)},
            message_id=m.id,
            app_id=self._owning_app(m),
        )
        return await self._deliver(i, wait)

    async def submit_modal(
        self, opened_by: Interaction, values: Mapping[str, str], *, wait: bool = True
    ) -> Interaction:
        """The user fills in and submits the modal ``opened_by`` answered with
        (``MODAL``): a MODAL_SUBMIT interaction with one text input per ``values``
        entry (custom id → text). Inputs the modal marks required must be given."""
        if opened_by.response_type != MODAL or opened_by.response_data is None:
            raise DiscordEmulatorError(f"interaction {opened_by.id} did not open a modal")
        modal = opened_by.response_data
        inputs = [c for row in modal.get("components") or [] for c in row.get("components") or []]
        declared = {str(c.get("custom_id")): c for c in inputs}
        missing = [k for k, c in declared.items() if c.get("required", True) and k not in values]
        unknown = [k for k in values if k not in declared]
        if missing or unknown:
            raise DiscordEmulatorError(f"modal: missing required {missing}, unknown {unknown}")
        rows: list[JsonObject] = [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in values.items()
        ]
        i = self.interactions.new(
            MODAL_SUBMIT,
            user_id=opened_by.user_id,
            channel_id=opened_by.channel_id,
            data={"custom_id": modal.get("custom_id"), "components": rows},
            message_id=opened_by.message_id,
            app_id=opened_by.app_id,
        )
        return await self._deliver(i, wait)

    async def run_command(
        self,
        channel_id: int,
        user: User | int,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        files: Mapping[str, FileSpec] | None = None,
        wait: bool = True,
        app: Application | int | None = None,
    ) -> Interaction:
        """A user runs ``/name`` with ``options`` (and attachment options from
        ``files``: option name → file). The command must be registered (global or for
        the channel's guild, by ``app`` or, when ``None``, by any application whose bot
        is in the guild); option types come from its definition."""
        uid = user.id if isinstance(user, User) else user
        c = self.world.channel(channel_id)
        app_id = app.id if isinstance(app, Application) else app
        cmd = self.world.find_command(c.guild_id, name, app_id=app_id)
        if cmd is None:
            raise DiscordEmulatorError(f"no command /{name} is registered for guild {c.guild_id}")
        self._require_view(channel_id, uid)
        if cmd.default_member_permissions is not None:
            needed = int(cmd.default_member_permissions)
            if self.world.permissions_in(channel_id, uid) & needed != needed:
                raise DiscordEmulatorError(f"user {uid} may not use /{name} (permissions)")
        data = self._command_data(cmd, channel_id, options or {}, files or {})
        i = self.interactions.new(
            APPLICATION_COMMAND,
            user_id=uid,
            channel_id=channel_id,
            data=data,
            app_id=cmd.application_id,
        )
        return await self._deliver(i, wait)

    def _command_data(
        self,
        cmd: Command,
        channel_id: int,
        options: Mapping[str, Any],
        files: Mapping[str, FileSpec],
    ) -> JsonObject:
        """The ``data`` of a chat-input interaction, with ``resolved`` objects as
        Discord sends them for user, channel, role and attachment options."""
        world = self.world
        guild_id = world.channel(channel_id).guild_id
        declared = {str(o.get("name")): o for o in cmd.options}
        missing = [
            n
            for n, o in declared.items()
            if o.get("required") and n not in options and n not in files
        ]
        unknown = [n for n in [*options, *files] if n not in declared]
        if missing or unknown:
            raise DiscordEmulatorError(
                f"/{cmd.name}: missing required {missing}, unknown {unknown}"
            )
        opts: list[JsonObject] = []
        resolved: dict[str, dict[str, Any]] = {}
        for key, value in options.items():
            kind = int(declared[key].get("type") or 3)
            if kind == 11:
                raise DiscordEmulatorError(f"/{cmd.name} {key}: pass attachments in files=")
            if kind in (6, 7, 8, 9):
                ref = int(value.id if hasattr(value, "id") else value)
                value = str(ref)
                if kind in (6, 9) and ref in world.users:
                    resolved.setdefault("users", {})[value] = dict(user_payload(world.users[ref]))
                    member = world.guilds[guild_id].members.get(ref)
                    if member is not None:
                        mp: JsonObject = dict(member_payload(world, member))
                        mp.pop("user")
                        mp["permissions"] = str(world.permissions_in(channel_id, ref))
                        resolved.setdefault("members", {})[value] = mp
                elif kind in (7, 9) and ref in world.channels:
                    ch = world.channels[ref]
                    resolved.setdefault("channels", {})[value] = {
                        "id": value,
                        "name": ch.name,
                        "type": ch.type,
                        "permissions": str(world.permissions_in(ref, world.bot.id)),
                    }
                elif kind in (8, 9) and ref in world.guilds[guild_id].roles:
                    resolved.setdefault("roles", {})[value] = dict(
                        role_payload(world.guilds[guild_id].roles[ref])
                    )
            opts.append({"name": key, "type": kind, "value": value})
        for key, spec in files.items():
            if int(declared[key].get("type") or 3) != 11:
                raise DiscordEmulatorError(f"/{cmd.name} {key} is not an attachment option")
            up = Upload(spec[0], spec[2] if len(spec) > 2 else None, spec[1])
            att = world.store_attachments(channel_id, [up])[0]
            opts.append({"name": key, "type": 11, "value": str(att.id)})
            resolved.setdefault("attachments", {})[str(att.id)] = dict(
                attachment_payload(world, att)
            )
        data: JsonObject = {"id": str(cmd.id), "name": cmd.name, "type": 1, "options": opts}
        if cmd.guild_id is not None:
            data["guild_id"] = str(cmd.guild_id)
        if resolved:
            data["resolved"] = resolved
        return data

    async def redeliver(self, interaction: Interaction, *, resign: bool = True) -> tuple[int, Any]:
        """Deliver an interaction again: ``resign=True`` as Discord's duplicate
        delivery (new timestamp and signature), ``resign=False`` as a replay of the
        captured request. Returns the endpoint's (status, body)."""
        return await self.interactions.redeliver(interaction, resign=resign)

    async def ping_endpoint(self, app: Application | None = None) -> Interaction:
        """Discord's endpoint check: a signed PING must be answered with PONG."""
        i = self.interactions.new(
            PING, user_id=None, channel_id=None, data=None, app_id=app.id if app else None
        )
        return await self.interactions.deliver(i)

    async def verify_endpoint(self, app: Application | None = None) -> bool:
        """What Discord does when the endpoint URL is saved: a signed PING gets PONG
        and a PING with a bad signature gets 401."""
        good = await self.ping_endpoint(app)
        if good.response_type != PONG:
            return False
        body = b'{"type":1,"id":"1","token":"x","application_id":"1","version":1}'
        app_id = app.id if app else None
        headers = self.interactions.signed_headers(body, app_id=app_id)
        headers["X-Signature-Ed25519"] = "00" * 64
        status, _ = await self.interactions.post_raw(body, headers, app_id=app_id)
        return status == 401

    def _owning_app(self, m: Message) -> int:
        """The application whose bot (or interaction webhook) posted ``m``."""
        for candidate in (m.application_id, m.author_id):
            if candidate is not None and candidate in self.world.apps:
                return candidate
        raise DiscordEmulatorError(f"message {m.id} was not posted by a bot application")

    async def _deliver(self, i: Interaction, wait: bool) -> Interaction:
        if wait:
            await self.interactions.deliver(i)
            self._changed()
            return i
        task = asyncio.create_task(self.interactions.deliver(i))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return i

    def _message(self, message_id: int) -> Message:
        m = self.world.messages.get(message_id)
        if m is None or m.deleted:
            raise DiscordEmulatorError(f"no message {message_id}")
        return m

    def _require_view(self, channel_id: int, user_id: int) -> None:
        if not self.world.can_view(channel_id, user_id):
            raise DiscordEmulatorError(f"user {user_id} cannot see channel {channel_id}")

    # --- the gateway ----------------------------------------------------------------

    async def wait_for_gateway(self, count: int = 1, *, timeout: float = 10.0) -> None:
        await self.gateway.wait_for_sessions(count, timeout=timeout)

    async def drop_gateway_connections(self, code: int = 4000) -> int:
        return await self.gateway.drop_connections(code)

    @property
    def gateway_sessions(self) -> list[GatewaySession]:
        return list(self.gateway.sessions.values())

    # --- faults ---------------------------------------------------------------------

    def inject_rate_limit(
        self,
        route: str | None = None,
        *,
        times: int = 1,
        retry_after: float = 0.5,
        scope: str = "user",
    ) -> Fault:
        """The next ``times`` requests to ``route`` (a route name, None: any) get a
        429 with ``retry_after`` and the given scope (``user``/``global``/``shared``)."""
        f = Fault(route=route, times=times, retry_after=retry_after, scope=scope)
        self.rest.faults.append(f)
        return f

    def inject_latency(
        self, route: str | None, seconds: float, *, times: int | None = None
    ) -> Fault:
        """Serve matching requests normally but ``seconds`` late (``times=None``: all
        of them, until :meth:`clear_faults`)."""
        f = Fault(route=route, kind="delay", delay=seconds, times=times)
        self.rest.faults.append(f)
        return f

    def inject_disconnect(self, route: str | None, *, times: int = 1) -> Fault:
        """Drop the connection of matching requests without answering (recorded with
        status 499); the request has no effect."""
        f = Fault(route=route, kind="disconnect", times=times)
        self.rest.faults.append(f)
        return f

    def clear_faults(self) -> None:
        self.rest.faults.clear()

    def inject_error(
        self,
        route: str | None,
        status: int,
        *,
        code: int = 0,
        message: str = "injected by the emulator",
        times: int = 1,
    ) -> Fault:
        f = Fault(route=route, status=status, times=times, code=code, message=message)
        self.rest.faults.append(f)
        return f

    # --- observations ---------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        return list(self._requests)

    def requests_for(self, route: str) -> list[RecordedRequest]:
        return [r for r in self._requests if r.route == route]

    @property
    def dispatches(self) -> list[RecordedDispatch]:
        return list(self._dispatches)

    @property
    def all_interactions(self) -> list[Interaction]:
        return list(self.interactions.by_id.values())

    @property
    def invalid_request_count(self) -> int:
        """401/403/429 answers inside the current window (Discord bans at 10,000/10 min)."""
        return self.limiter.invalid_count()

    @property
    def invalid_requests_total(self) -> int:
        return self.limiter.invalid_total

    @property
    def rate_limited_requests(self) -> list[RecordedRequest]:
        return [r for r in self._requests if r.status == 429]

    def messages(self, channel_id: int, *, include_ephemeral: bool = False) -> list[Message]:
        return [
            m
            for m in self.world.live_messages(channel_id)
            if include_ephemeral or m.visible_to is None
        ]

    def transcript(
        self, channel_id: int, *, include_ephemeral: bool = True
    ) -> list[TranscriptEntry]:
        return transcript(self.world, channel_id, include_ephemeral=include_ephemeral)

    def render_transcript(self, channel_id: int | None = None) -> str:
        """One channel, or every channel of every guild, as readable text."""
        if channel_id is not None:
            return render(self.world, channel_id)
        parts = []
        for g in self.world.guilds.values():
            for cid in g.channel_ids:
                if self.world.channels[cid].type != GUILD_CATEGORY:
                    parts.append(render(self.world, cid))
        return "\n\n".join(parts)

    def attachment_data(self, attachment_id: int) -> bytes:
        return self.world.attachments[attachment_id].data

    async def wait_for(
        self, predicate: Callable[[], bool], *, timeout: float = 10.0, poll: float = 0.05
    ) -> None:
        """Wait until ``predicate()`` holds. It is checked after every change the
        emulator sees (request answered, dispatch, interaction answered) and every
        ``poll`` seconds, for predicates about the client's side."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("condition not met in time")
            tick = self._tick
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tick.wait(), min(poll, remaining))

    async def wait_for_message(
        self,
        channel_id: int,
        predicate: Callable[[Message], bool] | None = None,
        *,
        timeout: float = 10.0,
    ) -> Message:
        found: list[Message] = []

        def check() -> bool:
            for m in self.world.live_messages(channel_id):
                if predicate is None or predicate(m):
                    found.append(m)
                    return True
            return False

        await self.wait_for(check, timeout=timeout)
        return found[0]

    # --- internals ------------------------------------------------------------------

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._changed()

    def _changed(self) -> None:
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    def _on_dispatch(self, d: Dispatch) -> None:
        self.gateway.publish(d)
        self._changed()

    def _record_dispatch(self, d: RecordedDispatch) -> None:
        self._dispatches.append(d)

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        try:
            att = self.world.attachments[int(request.match_info["attachment_id"])]
        except (KeyError, ValueError):
            return web.Response(status=404, text="404: Not Found")
        path = request.raw_path.split("?", 1)[0].removeprefix("/cdn")
        if not self.world.cdn_signature_ok(path, request.query):
            return web.Response(status=404, text="This content is no longer available.")
        return web.Response(
            body=att.data, content_type=att.content_type or "application/octet-stream"
        )

    def interaction_summary(self, i: Interaction) -> dict[str, Any]:
        """JSON-safe: snowflakes as strings (JavaScript loses precision past 2**53)."""
        out = asdict(i)
        for key in ("payload", "sent_body", "sent_headers"):
            out.pop(key)
        for key, value in out.items():
            if (key == "id" or key.endswith("_id")) and isinstance(value, int):
                out[key] = str(value)
        out["followup_ids"] = [str(x) for x in i.followup_ids]
        out["failed"] = i.failed
        return out


__all__ = ["ApiError", "DiscordEmulator", "new_bot_token"]
