"""The gateway process: makes every client once, wires the parts together and runs
the long-lived loops (Discord gateway WebSocket, session watch, renderers, PostMessage
executor, retention janitor). Started and stopped by the FastAPI lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import discord
import httpx
import redis.asyncio as aioredis
import structlog
from discord.gateway import KeepAliveHandler

from .access import Actor
from .attachments import IncomingAttachment
from .commands import Commands, sync_commands
from .context import GatewayContext
from .errors import DiscordError, GatewayError
from .ingest import IncomingMessage, ingest_message
from .interactions import InteractionHandler
from .keys import KeySpace
from .kube import KubeClient
from .lifecycle import Lifecycle
from .metrics import Metrics
from .post_messages import PostMessageExecutor
from .ratelimit import RateLimiter
from .render import RenderManager
from .rest import DiscordRest, configure_endpoints, make_trace
from .sessions import Sessions
from .settings import Credentials, GatewaySettings
from .signatures import SignatureVerifier
from .start_chat import StartChat, ensure_start_message
from .tenant import TenantConfig

log = structlog.get_logger(__name__)


def incoming(message: discord.Message) -> IncomingMessage:
    author = message.author
    roles = frozenset(str(r.id) for r in getattr(author, "roles", []) if not r.is_default())
    return IncomingMessage(
        id=str(message.id),
        channel_id=str(message.channel.id),
        guild_id=str(message.guild.id) if message.guild else None,
        author=Actor(
            user_id=str(author.id),
            name=author.display_name,
            roles=roles,
            guild_id=str(message.guild.id) if message.guild else None,
            channel_id=str(message.channel.id),
        ),
        author_is_bot=author.bot,
        content=message.content,
        created_at=message.created_at,
        attachments=tuple(
            IncomingAttachment(
                id=str(a.id),
                filename=a.filename,
                size=a.size,
                url=a.url,
                content_type=a.content_type or "application/octet-stream",
            )
            for a in message.attachments
        ),
        reply_to=str(message.reference.message_id)
        if message.reference and message.reference.message_id
        else None,
    )


class DiscordClient(discord.Client):
    """discord.py's client, for the gateway WebSocket and the HTTP session."""

    def __init__(
        self,
        on_message: Callable[[discord.Message], Awaitable[None]],
        on_guild: Callable[[str], Awaitable[None]],
        on_channel_deleted: Callable[[str], Awaitable[None]],
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.message_content = True
        super().__init__(intents=intents, **options)
        self._handle_message = on_message
        self._handle_guild = on_guild
        self._handle_channel_deleted = on_channel_deleted

    async def on_message(self, message: discord.Message) -> None:
        await self._handle_message(message)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self._handle_guild(str(guild.id))

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self._handle_guild(str(guild.id))

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        await self._handle_channel_deleted(str(channel.id))


class GatewayService:
    def __init__(
        self,
        settings: GatewaySettings,
        credentials: Credentials,
        *,
        kubeconfig: str | None = None,
        connect_gateway: bool = True,
    ) -> None:
        self.settings = settings
        self._credentials = credentials
        self._kubeconfig = kubeconfig
        self._connect_gateway = connect_gateway
        self.metrics = Metrics()
        self.verifier = SignatureVerifier(credentials.public_key)
        self.ready = False
        self._tasks: list[asyncio.Task[Any]] = []
        self._channel_locks: dict[str, asyncio.Lock] = {}
        self.ctx: GatewayContext | None = None
        self.handler: InteractionHandler | None = None
        self.renders: RenderManager | None = None
        self.crashed = False
        """Set to stop like a crash: leases are left to expire (tests of fail-over)."""

    async def start(self) -> None:
        s, creds = self.settings, self._credentials
        configure_endpoints(s.discord.api_base, s.discord.gateway_url)
        self.redis = aioredis.Redis(
            connection_pool=aioredis.BlockingConnectionPool.from_url(
                s.redis.url,
                username=creds.redis_username,
                password=creds.redis_password,
                decode_responses=True,
                max_connections=64,
                timeout=10,
            )
        )
        self.stream_redis = aioredis.Redis.from_url(
            s.redis.url,
            username=creds.redis_username,
            password=creds.redis_password,
            decode_responses=True,
            max_connections=2000,
        )
        await self.redis.ping()
        space = KeySpace(s.provider, s.tenant, s.topic_root)
        limiter = RateLimiter(
            self.redis,
            space,
            global_rate=s.discord.global_rate_per_second,
            channel_rate=s.discord.channel_rate_per_second,
        )
        self.client = DiscordClient(
            self._on_message,
            self._on_guild,
            self._on_channel_deleted,
            http_trace=make_trace(limiter, self.metrics),
        )
        await self.client.login(creds.bot_token)
        assert self.client.user is not None
        rest = DiscordRest(self.client.http, limiter, creds.app_id)
        self.kube = await KubeClient.from_environment(self._kubeconfig)
        tenant = TenantConfig(self.kube, s.tenant_resource_name)
        await tenant.load()
        sessions = Sessions(self.kube, s.namespace, provider=s.provider, tenant=s.tenant)
        self.http = httpx.AsyncClient(timeout=30.0, follow_redirects=True)
        ctx = GatewayContext(
            settings=s,
            space=space,
            redis=self.redis,
            stream_redis=self.stream_redis,
            rest=rest,
            sessions=sessions,
            tenant=tenant,
            metrics=self.metrics,
            bot_user_id=str(self.client.user.id),
        )
        self.ctx = ctx
        self.lifecycle = Lifecycle(ctx)
        sessions.on_change(self.lifecycle.on_status)
        commands = Commands(ctx, self.lifecycle, self.http)
        self.handler = InteractionHandler(
            ctx, commands, StartChat(ctx, self.lifecycle), self.lifecycle
        )
        self.renders = RenderManager(ctx, lease_seconds=s.discord.render_lease_seconds)
        self._spawn(sessions.run_watch(), "session-watch")
        await asyncio.wait_for(sessions.synced.wait(), timeout=30)
        self._spawn(tenant.refresh_forever(), "tenant-refresh")
        self._spawn(self.renders.run(), "renderers")
        self._spawn(PostMessageExecutor(ctx).run(), "post-messages")
        self._spawn(self.lifecycle.run_janitor(), "retention")
        if self._connect_gateway:
            self._spawn(self.client.connect(reconnect=True), "discord-gateway")
        await self._setup_discord(ctx)
        self.ready = True
        log.info("gateway_started", tenant=s.tenant, bot_user_id=ctx.bot_user_id)

    async def _setup_discord(self, ctx: GatewayContext) -> None:
        spec = ctx.tenant.spec
        for channel_id in spec.gateway.start_chat_channels:
            try:
                await ensure_start_message(ctx, channel_id)
            except DiscordError as e:
                log.error("start_message_failed", channel_id=channel_id, error=str(e))
        if self.settings.discord.sync_commands:
            for guild_id in spec.allow.guilds:
                try:
                    await sync_commands(ctx, guild_id)
                except DiscordError as e:
                    log.error("command_sync_failed", guild_id=guild_id, error=str(e))

    async def _on_guild(self, guild_id: str) -> None:
        """A guild the bot is in: register the session commands there when the tenant
        does not list its guilds (allowed guilds are synced at start-up)."""
        ctx = self.ctx
        if ctx is None or not self.settings.discord.sync_commands:
            return
        if ctx.tenant.spec.allow.guilds:
            return
        try:
            await sync_commands(ctx, guild_id)
        except DiscordError as e:
            log.error("command_sync_failed", guild_id=guild_id, error=str(e))

    async def _on_channel_deleted(self, channel_id: str) -> None:
        """Someone deleted a session's channel: nothing can be shown any more, so the
        session is ended (idempotent: every replica may see the event)."""
        ctx = self.ctx
        record = ctx.sessions.by_channel(channel_id) if ctx else None
        if ctx is None or record is None or not record.active:
            return
        log.info("session_channel_deleted", session_id=record.name, channel_id=channel_id)
        try:
            await ctx.sessions.end(record.name)
        except GatewayError as e:
            log.warning("session_end_failed", session_id=record.name, error=str(e))

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background_task_failed", task=name)
                raise

        self._tasks.append(asyncio.create_task(guarded(), name=name))

    async def _on_message(self, message: discord.Message) -> None:
        if self.ctx is None:
            return
        channel = str(message.channel.id)
        lock = self._channel_locks.setdefault(channel, asyncio.Lock())
        async with lock:
            try:
                outcome = await ingest_message(self.ctx, self.http, incoming(message))
            except Exception:
                log.exception("ingest_failed", channel_id=channel)
                outcome = "error"
        self.metrics.messages_ingested.labels(outcome=outcome).inc()

    async def stop(self) -> None:
        self.ready = False
        if self.handler is not None and not self.crashed:
            await self.handler.drain()
        # Close the client before cancelling its task, and its websocket even when the
        # socket is already gone: Client.close() skips a closed socket, whose heartbeat
        # thread would then outlive the event loop.
        with contextlib.suppress(Exception):
            await self.client.close()
        websocket = self.client.ws
        if websocket is not None:
            with contextlib.suppress(Exception):
                await websocket.close(code=1000)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        # A connect cancelled mid-handshake may have made a websocket (and started its
        # heartbeat thread on HELLO) after the close above: stop every heartbeat thread
        # of this client's connection.
        websocket = self.client.ws
        if websocket is not None:
            with contextlib.suppress(Exception):
                await websocket.close(code=1000)
        state = getattr(self.client, "_connection", None)
        for thread in threading.enumerate():
            owner = getattr(thread, "ws", None)
            if isinstance(thread, KeepAliveHandler) and getattr(owner, "_connection", 0) is state:
                thread.stop()
                with contextlib.suppress(Exception):
                    await thread.ws.close(code=1000)  # and its socket
        if self.renders is not None:
            await self.renders.stop(release=not self.crashed)
        with contextlib.suppress(Exception):
            await self.http.aclose()
        with contextlib.suppress(Exception):
            await self.kube.close()
        with contextlib.suppress(Exception):
            await self.redis.aclose()
        with contextlib.suppress(Exception):
            await self.stream_redis.aclose()
