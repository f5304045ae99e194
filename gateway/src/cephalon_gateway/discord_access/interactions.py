"""``POST /discord/interactions``: verify, acknowledge, then work in the background.

The Ed25519 signature is checked on the raw body before anything else (401 and a
metric on failure). PING gets PONG. Commands and component clicks get a deferred
response *inside the HTTP response* (no REST call before the ACK); the work runs as a
background task that answers through :class:`~.followups.Responder`. A redelivered
interaction id is acknowledged again but does nothing (dedupe in Redis).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, cast

import structlog
from fastapi import Request, Response
from fastapi.responses import JSONResponse

from cephalon_contracts import ErrorCode, new_trace_id

from .access import Actor, may_approve, may_drive
from .commands import Commands, parse_invocation
from .context import GatewayContext
from .custom_ids import parse_custom_id
from .embeds import approval_embed
from .errors import DiscordError, ExpiredError, GatewayError, SignatureError
from .followups import Responder
from .lifecycle import Lifecycle
from .payloads import (
    APPLICATION_COMMAND,
    DEFERRED_CHANNEL_MESSAGE,
    EPHEMERAL,
    MESSAGE_COMPONENT,
    PING,
    PONG,
    Interaction,
    MessageBody,
)
from .signatures import SignatureVerifier
from .start_chat import StartChat
from .streams import hgetall, hsetnx
from .turns import send_cancel, send_decision

log = structlog.get_logger(__name__)

DEDUPE_SECONDS = 3600
MAX_CONCURRENT_WORK = 32


def actor_of(interaction: Interaction) -> Actor:
    raw: dict[str, Any] = dict(interaction)
    member: dict[str, Any] = raw.get("member") or {}
    user: dict[str, Any] = member.get("user") or raw.get("user") or {"id": "0"}
    name = member.get("nick") or user.get("global_name") or user.get("username") or "?"
    return Actor(
        user_id=str(user["id"]),
        name=str(name),
        roles=frozenset(str(r) for r in member.get("roles", [])),
        guild_id=interaction.get("guild_id"),
        channel_id=interaction.get("channel_id"),
    )


class InteractionHandler:
    """Runs acknowledged interactions in background tasks it keeps track of."""

    def __init__(
        self, ctx: GatewayContext, commands: Commands, start: StartChat, lifecycle: Lifecycle
    ) -> None:
        self.ctx = ctx
        self.commands = commands
        self.start = start
        self.lifecycle = lifecycle
        self.tasks: set[asyncio.Task[None]] = set()
        # Bounded background work: in a burst, acknowledging the rest comes first.
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_WORK)

    def spawn(self, interaction: Interaction, received_at: float) -> None:
        task = asyncio.create_task(self.run(interaction, received_at))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def drain(self, timeout: float = 10.0) -> None:
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=timeout)
        for task in set(self.tasks):
            task.cancel()

    async def run(self, interaction: Interaction, received_at: float) -> None:
        async with self._slots:
            await self._run(interaction, received_at)

    async def _run(self, interaction: Interaction, received_at: float) -> None:
        actor = actor_of(interaction)
        responder = Responder(
            ctx=self.ctx,
            interaction_id=interaction["id"],
            token=interaction["token"],
            channel_id=interaction.get("channel_id"),
            user_id=actor.user_id,
            received_at=received_at,
        )
        bound = log.bind(interaction_id=interaction["id"], user_id=actor.user_id)
        try:
            await self._dispatch(interaction, actor, responder)
        except GatewayError as e:
            bound.info("interaction_refused", error=type(e).__name__, reason=e.message)
            try:
                await responder.reply(f"⚠️ {e.message}")
            except DiscordError:
                bound.warning("interaction_reply_failed")
        except Exception:
            trace_id = new_trace_id()
            bound.exception("interaction_failed", trace_id=trace_id)
            try:
                await responder.reply(
                    "⚠️ Something went wrong on our side. Please try again.\n"
                    f"-# `{ErrorCode.INTERNAL_ERROR.value}` · trace `{trace_id}`"
                )
            except DiscordError:
                pass

    async def _dispatch(self, interaction: Interaction, actor: Actor, responder: Responder) -> None:
        data = interaction.get("data", {})
        if interaction["type"] == APPLICATION_COMMAND:
            await self.commands.handle(parse_invocation(data), actor, responder, interaction["id"])
            return
        custom = parse_custom_id(data.get("custom_id", ""))
        if custom is None:
            await responder.reply("This button is no longer supported.")
            return
        if custom.action == "start":
            await self.start.click(responder, actor, interaction["id"])
            return
        record = self.ctx.sessions.get(custom.session or "")
        if record is None:
            await responder.reply("This session no longer exists.")
            return
        spec = self.ctx.tenant.spec
        if custom.action in ("approve", "deny"):
            if not may_approve(spec, actor, record.owner_id):
                await responder.reply("Only the owner of this session can decide this.")
                return
            await self._decide(record.name, custom.request or "", actor, custom.action == "approve")
            verdict = "Approved" if custom.action == "approve" else "Denied"
            await responder.reply(f"{verdict}.")
            return
        if custom.action in ("end", "cancel"):
            self.commands.session_for(actor)  # only from the session's own channel
            if not may_drive(spec, actor, record.owner_id):
                await responder.reply("Only the owner of this session can do that.")
                return
            if custom.action == "end":
                await self.lifecycle.end(record)
                await responder.reply("Session ended; the channel is locked.")
            else:
                await send_cancel(self.ctx, record, actor)
                await responder.reply("Cancelling the running turn.")
            return
        await responder.reply("This button is no longer supported.")

    async def _decide(self, session_id: str, request_id: str, actor: Actor, approved: bool) -> None:
        record = self.ctx.sessions.get(session_id)
        assert record is not None
        key = self.ctx.space.gateway(f"approval.{session_id}.{request_id}")
        meta = await hgetall(self.ctx.redis, key)
        if float(meta.get("expires_at") or "inf") < time.time():
            raise ExpiredError("This request expired, so the tool call was denied.")
        claimed = await hsetnx(self.ctx.redis, key, "decided", actor.user_id)
        if not claimed:
            raise ExpiredError("This request was already decided.")
        await send_decision(self.ctx, record, actor, request_id, approved)
        meta = await hgetall(self.ctx.redis, key)
        if meta.get("message"):
            outcome = f"{'Approved' if approved else 'Denied'} by {actor.name}"
            await self.ctx.rest.edit_message(
                meta["channel"],
                meta["message"],
                MessageBody(
                    embeds=[
                        approval_embed(
                            tool=meta.get("tool", "?"),
                            risk=meta.get("risk", "restricted"),
                            arguments=meta.get("arguments", ""),
                            reason=meta.get("reason", "-"),
                            expires="-",
                            outcome=outcome,
                        )
                    ],
                    components=[],
                ),
            )


async def handle_request(
    request: Request, ctx: GatewayContext, verifier: SignatureVerifier, handler: InteractionHandler
) -> Response:
    """The endpoint's body: verify first, then PONG or a deferred ACK."""
    metrics = ctx.metrics
    started = time.perf_counter()
    body = await request.body()
    try:
        verifier.verify(
            request.headers.get("X-Signature-Ed25519"),
            request.headers.get("X-Signature-Timestamp"),
            body,
        )
    except SignatureError:
        metrics.signature_failures.inc()
        return JSONResponse({"error": "invalid request signature"}, status_code=401)
    try:
        interaction = cast(Interaction, json.loads(body))
        kind = int(interaction["type"])
    except (ValueError, KeyError, TypeError):
        metrics.interactions.labels(type="invalid", outcome="bad_request").inc()
        return JSONResponse({"error": "malformed interaction"}, status_code=400)
    if kind == PING:
        metrics.interactions.labels(type="ping", outcome="pong").inc()
        return JSONResponse({"type": PONG})
    label = {APPLICATION_COMMAND: "command", MESSAGE_COMPONENT: "component"}.get(kind)
    ack: dict[str, Any] = {"type": DEFERRED_CHANNEL_MESSAGE, "data": {"flags": EPHEMERAL}}
    if label is None:
        metrics.interactions.labels(type=str(kind), outcome="unsupported").inc()
        return JSONResponse(ack)
    first = await ctx.redis.set(
        ctx.space.gateway(f"seen.interaction.{interaction['id']}"),
        "1",
        nx=True,
        ex=DEDUPE_SECONDS,
    )
    if first:
        handler.spawn(interaction, time.monotonic())
    metrics.interactions.labels(type=label, outcome="deferred" if first else "duplicate").inc()
    metrics.ack_seconds.observe(time.perf_counter() - started)
    return JSONResponse(ack)
