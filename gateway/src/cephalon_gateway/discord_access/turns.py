"""Writing to a session: turns (with attachments, steer prefix and overrides), cancel
and approval decisions, each as an envelope on the session's stream. A turn for a
suspended session also stamps the wake annotation so the operator resumes it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
import structlog

from cephalon_contracts import (
    ApprovalDecision,
    AttachmentRef,
    Cancel,
    SessionOverrides,
    TurnMode,
    TurnRequest,
    encode_envelope,
    envelope,
    new_id,
    to_urn,
)
from cephalon_contracts.envelope import PayloadModel
from cephalon_contracts.resources import SessionPhase

from .access import Actor
from .attachments import IncomingAttachment, check_attachment, fetch_and_store
from .context import GatewayContext
from .sessions import SessionRecord

log = structlog.get_logger(__name__)


def user_urn(ctx: GatewayContext, user_id: str) -> str:
    return to_urn(ctx.settings.provider, ctx.settings.tenant, "user", user_id)


def split_steer(text: str, prefix: str) -> tuple[str, TurnMode]:
    """A message starting with the steer prefix steers the running turn."""
    if prefix and text.startswith(prefix):
        return text[len(prefix) :].lstrip(), TurnMode.IMMEDIATE
    return text, TurnMode.QUEUE


async def load_overrides(ctx: GatewayContext, session_id: str) -> SessionOverrides:
    raw = await ctx.redis.get(ctx.space.gateway(f"overrides.{session_id}"))
    if not raw:
        return SessionOverrides()
    return SessionOverrides.model_validate_json(raw)


async def save_overrides(ctx: GatewayContext, session_id: str, overrides: SessionOverrides) -> None:
    await ctx.redis.set(
        ctx.space.gateway(f"overrides.{session_id}"), overrides.model_dump_json(exclude_none=True)
    )


async def publish(
    ctx: GatewayContext,
    stream: str,
    payload: PayloadModel,
    *,
    session_id: str | None = None,
    turn_id: str | None = None,
    trace_id: str | None = None,
    idempotency_key: str | None = None,
    maxlen: int | None = None,
) -> str:
    message = envelope(
        payload,
        provider=ctx.settings.provider,
        tenant=ctx.settings.tenant,
        session_id=session_id,
        turn_id=turn_id,
        trace_id=trace_id,
        idempotency_key=idempotency_key,
    )
    await ctx.redis.xadd(
        stream, {"envelope": encode_envelope(message)}, maxlen=maxlen, approximate=True
    )
    return message.id


async def submit_turn(
    ctx: GatewayContext,
    http: httpx.AsyncClient,
    record: SessionRecord,
    actor: Actor,
    text: str,
    attachments: Sequence[IncomingAttachment],
    *,
    idempotency_key: str,
    trace_id: str | None = None,
) -> str:
    """Check and store attachments, then write the turn; returns the turn id.

    Raises :class:`~.errors.AttachmentError` (nothing is written) when an attachment
    is refused.
    """
    spec = ctx.tenant.spec
    for attachment in attachments:
        check_attachment(spec.attachments, attachment)
    refs: list[AttachmentRef] = []
    for attachment in attachments:
        refs.append(
            await fetch_and_store(
                http,
                ctx.redis,
                ctx.space,
                record.name,
                attachment,
                max_bytes=spec.attachments.max_bytes,
                ttl_seconds=ctx.settings.discord.attachment_ttl_seconds,
            )
        )
    body, mode = split_steer(text, spec.gateway.steer_prefix)
    turn = TurnRequest(
        text=body[:16_000],
        author=user_urn(ctx, actor.user_id),
        attachments=refs,
        mode=mode,
        overrides=await load_overrides(ctx, record.name),
    )
    turn_id = new_id()
    await publish(
        ctx,
        ctx.space.turns(record.name),
        turn,
        session_id=record.name,
        turn_id=turn_id,
        trace_id=trace_id,
        idempotency_key=idempotency_key,
    )
    current = ctx.sessions.get(record.name) or record
    if current.phase == SessionPhase.SUSPENDED:
        await ctx.sessions.wake(record.name, datetime.now(UTC))
    log.info("turn_submitted", session_id=record.name, turn_id=turn_id, mode=mode.value)
    return turn_id


async def send_cancel(ctx: GatewayContext, record: SessionRecord, actor: Actor) -> None:
    await publish(
        ctx,
        ctx.space.control(record.name),
        Cancel(requested_by=user_urn(ctx, actor.user_id), reason="cancelled from Discord"),
        session_id=record.name,
    )


async def send_decision(
    ctx: GatewayContext, record: SessionRecord, actor: Actor, request_id: str, approved: bool
) -> None:
    await publish(
        ctx,
        ctx.space.control(record.name),
        ApprovalDecision(
            request_id=request_id, approved=approved, decided_by=user_urn(ctx, actor.user_id)
        ),
        session_id=record.name,
        idempotency_key=f"approval:{record.name}:{request_id}",
    )
