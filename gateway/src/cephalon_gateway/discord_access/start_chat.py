"""Start Chat: the persistent button message, and what a click does.

A click is checked against the tenant's allow rules and quotas (with Discord's
channel caps), then gets a private channel under the tenant's category, an
AgentSession named after the interaction id, and a welcome message. Every step checks
what exists first, so a retried or repeated click makes one channel and one session.
"""

from __future__ import annotations

import hashlib
import re

import structlog

from cephalon_contracts.resources import (
    AgentSessionSpec,
    Conversation,
    Owner,
    Profile,
    SessionState,
)

from .access import Actor, check_allowed
from .context import GatewayContext, nonce
from .custom_ids import START
from .errors import DiscordError, DiscordRejected, QuotaError
from .followups import Responder
from .lifecycle import Lifecycle
from .payloads import (
    ATTACH_FILES,
    EMBED_LINKS,
    GUILD_TEXT,
    MANAGE_CHANNELS,
    MANAGE_MESSAGES,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    USE_APPLICATION_COMMANDS,
    VIEW_CHANNEL,
    Channel,
    MessageBody,
    Overwrite,
    button,
    row,
)
from .sessions import TERMINAL, SessionRecord, session_name
from .streams import delete_if_equal

log = structlog.get_logger(__name__)


START_TEXT = (
    "**Cephalon** — a coding agent in a private channel of your own.\n"
    "Press **Start Chat** to open a session."
)
OWNER_ALLOW = VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | ATTACH_FILES
OWNER_ALLOW |= USE_APPLICATION_COMMANDS
BOT_ALLOW = VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | EMBED_LINKS | ATTACH_FILES
BOT_ALLOW |= MANAGE_MESSAGES | MANAGE_CHANNELS


def channel_name(user_name: str, session_id: str) -> str:
    """``<user>-<short id>``: readable, unique per session, within Discord's rules."""
    slug = re.sub(r"[^a-z0-9]+", "-", user_name.lower()).strip("-")[:20] or "session"
    return f"{slug}-{hashlib.sha256(session_id.encode()).hexdigest()[:6]}"


def channel_topic(session_id: str) -> str:
    return f"Cephalon session {session_id}"


def session_overwrites(
    guild_id: str, owner_id: str, bot_id: str, roles: list[str]
) -> list[Overwrite]:
    """@everyone cannot see the channel; the owner, the bot and the tenant's roles can."""
    overwrites = [
        Overwrite(id=guild_id, type=0, allow="0", deny=str(VIEW_CHANNEL)),
        Overwrite(id=owner_id, type=1, allow=str(OWNER_ALLOW), deny="0"),
        Overwrite(id=bot_id, type=1, allow=str(BOT_ALLOW), deny="0"),
    ]
    overwrites += [Overwrite(id=r, type=0, allow=str(OWNER_ALLOW), deny="0") for r in roles]
    return overwrites


def start_message() -> MessageBody:
    return MessageBody(content=START_TEXT, components=[row(button("Start Chat", START))])


async def ensure_start_message(ctx: GatewayContext, channel_id: str) -> str:
    """Post the Start Chat message in ``channel_id`` unless it is already there."""
    key = ctx.space.gateway(f"startchat.{channel_id}")
    known = await ctx.redis.get(key)
    if known:
        try:
            await ctx.rest.get_message(channel_id, str(known))
            return str(known)
        except DiscordRejected as e:
            if e.status != 404:
                raise
    for message in await ctx.rest.recent_messages(channel_id):
        if message["author"]["id"] != ctx.bot_user_id:
            continue
        ids = [
            c.get("custom_id")
            for r in message.get("components") or []
            for c in r.get("components") or []
        ]
        if START in ids:
            await ctx.redis.set(key, message["id"])
            return message["id"]
    body = start_message()
    body["nonce"] = nonce("startchat", channel_id)
    body["enforce_nonce"] = True
    sent = await ctx.rest.send_message(channel_id, body)
    await ctx.redis.set(key, sent["id"])
    return sent["id"]


class StartChat:
    def __init__(self, ctx: GatewayContext, lifecycle: Lifecycle) -> None:
        self.ctx = ctx
        self.lifecycle = lifecycle

    def check_quotas(self, actor: Actor) -> None:
        sessions = self.ctx.tenant.spec.sessions
        mine = self.ctx.sessions.active_for(actor.user_id)
        if len(mine) >= sessions.max_per_user:
            channels = ", ".join(f"<#{s.channel_id}>" for s in mine)
            raise QuotaError(
                f"You already have {len(mine)} open session(s) ({channels}), the most this "
                "server allows. End one with `/end` first."
            )
        if len(self.ctx.sessions.active_for()) >= sessions.max_concurrent:
            raise QuotaError(
                "Cephalon is at its limit of concurrent sessions for this server. "
                "Please try again later."
            )

    async def _channel_room(self, guild_id: str, category: str | None) -> list[Channel]:
        """Guild channels, after archiving ended sessions' channels when the guild or
        the category is close to Discord's caps; refuses before the cap is hit."""
        d = self.ctx.settings.discord
        channels = await self.ctx.rest.guild_channels(guild_id)

        def full(chs: list[Channel]) -> str | None:
            if len(chs) >= d.guild_channel_limit - d.channel_cap_margin:
                return "server"
            in_category = [c for c in chs if category and c.get("parent_id") == category]
            if category and len(in_category) >= d.category_channel_limit - d.channel_cap_margin:
                return "category"
            return None

        if full(channels) is None:
            return channels
        # Archive: delete channels of ended sessions, oldest first.
        ended = sorted(
            (s for s in self.ctx.sessions.all() if s.phase in TERMINAL or not s.active),
            key=lambda s: s.created_at,
        )
        present = {c["id"] for c in channels}
        for record in ended:
            if full(channels) is None:
                break
            if record.channel_id not in present:
                continue
            try:
                await self.ctx.rest.delete_channel(record.channel_id)
            except DiscordRejected as e:
                if e.status != 404:
                    continue
            await self.ctx.redis.zrem(self.ctx.space.gateway("retention"), record.channel_id)
            channels = [c for c in channels if c["id"] != record.channel_id]
        where = full(channels)
        if where is not None:
            raise QuotaError(
                f"This {where} is close to Discord's channel limit, so no new session channel "
                "can be opened. Ask an admin to remove old channels, then try again."
            )
        return channels

    async def click(self, responder: Responder, actor: Actor, interaction_id: str) -> None:
        ctx = self.ctx
        spec = ctx.tenant.spec
        check_allowed(spec, actor)
        if actor.guild_id is None:
            await responder.reply("Start Chat works inside a server.")
            return
        sid = session_name(interaction_id)
        debounce = ctx.space.gateway(f"start.{actor.guild_id}.{actor.user_id}")
        window = max(1, int(ctx.settings.discord.start_debounce_seconds * 1000))
        claimed = await ctx.redis.set(debounce, sid, nx=True, px=window)
        if not claimed and await self._release_if_over(debounce):
            # The click it guarded opened a session that has ended since: a new click
            # is a new session, not a double click.
            claimed = await ctx.redis.set(debounce, sid, nx=True, px=window)
        if not claimed:
            other = await ctx.redis.get(debounce)
            record = ctx.sessions.get(str(other)) if other else None
            where = f" <#{record.channel_id}>" if record else ""
            await responder.reply(f"Your session{where} is already being opened.")
            ctx.metrics.sessions_started.labels(outcome="debounced").inc()
            return
        try:
            self.check_quotas(actor)
            record = await self._open(actor, sid, interaction_id)
        except BaseException:
            await ctx.redis.delete(debounce)
            raise
        ctx.metrics.sessions_started.labels(outcome="started").inc()
        await responder.reply(f"Your session is open: <#{record.channel_id}>")

    async def _release_if_over(self, debounce: str) -> bool:
        """Drop the debounce mark when its session has ended (compare-and-delete, so a
        mark a concurrent click just set is kept)."""
        other = await self.ctx.redis.get(debounce)
        record = self.ctx.sessions.get(str(other)) if other else None
        if record is None:
            return False
        over = record.phase in TERMINAL or record.spec.lifecycle.state == SessionState.ENDED
        if not over:
            return False
        return await delete_if_equal(self.ctx.redis, debounce, str(other))

    async def _open(self, actor: Actor, sid: str, interaction_id: str) -> SessionRecord:
        ctx = self.ctx
        spec = ctx.tenant.spec
        assert actor.guild_id is not None
        existing = ctx.sessions.get(sid)
        if existing is not None:
            await self.lifecycle.post_welcome(existing)
            return existing
        category = spec.gateway.session_category
        channels = await self._channel_room(actor.guild_id, category)
        topic = channel_topic(sid)
        channel = next((c for c in channels if c.get("topic") == topic), None)
        if channel is None:
            channel = await ctx.rest.create_channel(
                actor.guild_id,
                name=channel_name(actor.name, sid),
                parent_id=category,
                topic=topic,
                overwrites=session_overwrites(
                    actor.guild_id,
                    actor.user_id,
                    ctx.bot_user_id,
                    list(spec.gateway.operator_roles),
                ),
            )
            if channel.get("type", GUILD_TEXT) != GUILD_TEXT:
                raise DiscordError("Discord created an unexpected channel type")
        record = await ctx.sessions.create(
            sid,
            AgentSessionSpec(
                provider=ctx.settings.provider,
                tenant=ctx.settings.tenant,
                owner=Owner(id=actor.user_id, name=(actor.name or actor.user_id)[:100]),
                conversation=Conversation(
                    guild=actor.guild_id, channel=channel["id"], interaction_id=interaction_id
                ),
                profile=Profile(model=spec.models.default),
            ),
        )
        await self.lifecycle.post_welcome(record)
        log.info("session_opened", session_id=sid, channel_id=channel["id"])
        return record
