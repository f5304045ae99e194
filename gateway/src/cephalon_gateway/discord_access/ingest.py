"""Message ingest: every message in a session channel becomes a normalized
``SocialMessageCreated`` on the tenant topic, and a message from someone who may drive
the session becomes a ``TurnRequest``. Replicas all receive gateway events, so each
message id is handled once (dedupe in Redis)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import httpx
import structlog

from cephalon_contracts import AttachmentMeta, Author, SocialMessageCreated, to_urn

from .access import Actor, may_drive
from .attachments import IncomingAttachment, base_type
from .context import GatewayContext, nonce
from .errors import AttachmentError, DiscordError
from .payloads import MessageBody
from .turns import publish, submit_turn

log = structlog.get_logger(__name__)

SOCIAL_MAXLEN = 100_000


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """A Discord message, as much of it as the gateway uses."""

    id: str
    channel_id: str
    guild_id: str | None
    author: Actor
    author_is_bot: bool
    content: str
    created_at: datetime
    attachments: tuple[IncomingAttachment, ...] = field(default_factory=tuple)
    reply_to: str | None = None


def social_message(ctx: GatewayContext, message: IncomingMessage) -> SocialMessageCreated:
    p, t = ctx.settings.provider, ctx.settings.tenant
    return SocialMessageCreated(
        message=to_urn(p, t, "message", message.id),
        author=Author(
            urn=to_urn(p, t, "user", message.author.user_id),
            display_name=(message.author.name or message.author.user_id)[:100],
            is_bot=message.author_is_bot,
        ),
        channel=to_urn(p, t, "channel", message.channel_id),
        guild=to_urn(p, t, "guild", message.guild_id) if message.guild_id else None,
        content=message.content[:16_000],
        attachments=[
            AttachmentMeta(
                urn=to_urn(p, t, "attachment", a.id),
                filename=a.filename[:255],
                content_type=base_type(a.content_type),
                size_bytes=a.size,
            )
            for a in message.attachments[:10]
        ],
        created_at=message.created_at,
        reply_to=to_urn(p, t, "message", message.reply_to) if message.reply_to else None,
    )


async def ingest_message(
    ctx: GatewayContext, http: httpx.AsyncClient, message: IncomingMessage
) -> str:
    """Handle one message; returns the outcome (for metrics and tests)."""
    if message.author.user_id == ctx.bot_user_id:
        return "own"
    record = ctx.sessions.by_channel(message.channel_id)
    if record is None:
        return "not_session"
    first = await ctx.redis.set(
        ctx.space.gateway(f"seen.message.{message.id}"), "1", nx=True, ex=3600
    )
    if not first:
        return "duplicate"
    await publish(
        ctx,
        ctx.space.social_created,
        social_message(ctx, message),
        session_id=record.name,
        idempotency_key=f"discord-message:{message.id}",
        maxlen=SOCIAL_MAXLEN,
    )
    if message.author_is_bot or not may_drive(ctx.tenant.spec, message.author, record.owner_id):
        return "social"
    if not record.active:
        return "ended"
    try:
        await submit_turn(
            ctx,
            http,
            record,
            message.author,
            message.content,
            message.attachments,
            idempotency_key=f"discord-message:{message.id}",
        )
    except AttachmentError as e:
        await _reply(ctx, message, f"⚠️ {e.message}")
        return "attachment_refused"
    return "turn"


async def _reply(ctx: GatewayContext, message: IncomingMessage, text: str) -> None:
    body = MessageBody(
        content=text[:2000],
        message_reference={
            "message_id": message.id,
            "channel_id": message.channel_id,
            "fail_if_not_exists": False,
        },
        allowed_mentions={"parse": []},
        nonce=nonce("reply", message.id),
        enforce_nonce=True,
    )
    try:
        await ctx.rest.send_message(message.channel_id, body)
    except DiscordError as e:
        log.warning("reply_failed", channel_id=message.channel_id, error=str(e))
