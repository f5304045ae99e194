"""A session's life as the channel shows it: the welcome message's status line follows
the AgentSession's ``status`` (provisioning → ready → suspended), a one-time "ready"
notice, and the end: a summary (turns, tokens, duration), the channel locked, and
deleted after the retention. Every one-time step is claimed in Redis first, so with
several replicas it happens once."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import structlog

from cephalon_contracts.resources import SessionPhase, SessionState

from .context import GatewayContext, nonce
from .custom_ids import CustomId
from .errors import DiscordError, DiscordRejected
from .payloads import (
    BUTTON_DANGER,
    BUTTON_SECONDARY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    MessageBody,
    Overwrite,
    button,
    row,
)
from .sessions import SessionRecord
from .streams import hget, hgetall, hset, zdue

log = structlog.get_logger(__name__)

_LABELS = {
    SessionPhase.PENDING: "⏳ waiting to start",
    SessionPhase.PROVISIONING: "🛠️ provisioning your sandbox…",
    SessionPhase.READY: "✅ ready",
    SessionPhase.RUNNING: "✅ ready",
    SessionPhase.IDLE: "✅ ready",
    SessionPhase.SUSPENDED: "💤 suspended while idle; your next message wakes it",
    SessionPhase.ENDED: "🔒 ended",
    SessionPhase.FAILED: "❌ failed",
}


def status_line(record: SessionRecord) -> str:
    label = _LABELS.get(record.phase, record.phase.value)
    if record.spec.lifecycle.state == SessionState.ENDED and record.phase not in (
        SessionPhase.ENDED,
        SessionPhase.FAILED,
    ):
        label = "🔒 ending…"
    if record.status.message and record.phase in (SessionPhase.PENDING, SessionPhase.FAILED):
        label += f" — {record.status.message}"
    return label


def welcome_body(record: SessionRecord, steer_prefix: str) -> MessageBody:
    owner = record.owner_id
    text = (
        f"👋 <@{owner}>, this is your Cephalon session `{record.name}`.\n"
        "Write here to talk to the agent; messages wait for the running turn, or start one "
        f"with `{steer_prefix}` to steer it. Commands: `/ask`, `/model`, `/agent`, `/skill`, "
        "`/mcp`, `/provider`, `/status`, `/cancel`, `/end`.\n"
        f"**Status:** {status_line(record)}"
    )
    return MessageBody(
        content=text,
        allowed_mentions={"users": [owner]},
        components=[
            row(
                button("Cancel turn", str(CustomId("cancel", record.name)), BUTTON_SECONDARY),
                button("End session", str(CustomId("end", record.name)), BUTTON_DANGER),
            )
        ],
    )


def summary_text(record: SessionRecord, now: datetime) -> str:
    status = record.status
    started = status.started_at
    if started is None and record.created_at:
        try:
            started = datetime.fromisoformat(record.created_at.replace("Z", "+00:00"))
        except ValueError:
            started = None
    duration = "unknown"
    if started is not None:
        seconds = max(0, int((now - started).total_seconds()))
        duration = f"{seconds // 3600}h {seconds % 3600 // 60}m {seconds % 60}s"
    usage = status.usage
    verb = "failed" if status.phase == SessionPhase.FAILED else "ended"
    text = (
        f"🔒 Session `{record.name}` {verb}. Turns: {status.turns} · tokens: "
        f"{usage.total_tokens} ({usage.input_tokens} in / {usage.output_tokens} out) · "
        f"duration: {duration}."
    )
    if status.phase == SessionPhase.FAILED and status.message:
        text += f"\nReason: {status.message}"
    return text


class Lifecycle:
    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx

    def _meta_key(self, session_id: str) -> str:
        return self.ctx.space.gateway(f"session.{session_id}")

    async def post_welcome(self, record: SessionRecord) -> str:
        key = self._meta_key(record.name)
        existing = await hget(self.ctx.redis, key, "welcome")
        if existing:
            return str(existing)
        body = welcome_body(record, self.ctx.tenant.spec.gateway.steer_prefix)
        body["nonce"] = nonce(record.name, "welcome")
        body["enforce_nonce"] = True
        sent = await self.ctx.rest.send_message(record.channel_id, body)
        shown = status_line(record)
        await hset(
            self.ctx.redis,
            key,
            {"welcome": sent["id"], "channel": record.channel_id, "shown": shown},
        )
        return sent["id"]

    async def on_status(self, record: SessionRecord, previous: SessionRecord | None) -> None:
        """Session listener: keep the welcome line current, announce ready, finish."""
        key = self._meta_key(record.name)
        meta = await hgetall(self.ctx.redis, key)
        line = status_line(record)
        if meta.get("welcome") and meta.get("shown") != line:
            await hset(self.ctx.redis, key, {"shown": line})
            try:
                await self.ctx.rest.edit_message(
                    record.channel_id,
                    meta["welcome"],
                    welcome_body(record, self.ctx.tenant.spec.gateway.steer_prefix),
                )
            except DiscordError as e:
                log.warning("welcome_edit_failed", session_id=record.name, error=str(e))
        if record.phase == SessionPhase.READY and await self._claim(record.name, "ready"):
            await self._post(record, "✅ Your session is ready. Send a message to start.", "ready")
        if record.phase in (SessionPhase.ENDED, SessionPhase.FAILED):
            await self.finish(record)

    async def _claim(self, session_id: str, what: str) -> bool:
        key = self.ctx.space.gateway(f"once.{session_id}.{what}")
        return bool(await self.ctx.redis.set(key, "1", nx=True, ex=30 * 24 * 3600))

    async def _post(self, record: SessionRecord, text: str, what: str) -> None:
        try:
            await self.ctx.rest.send_message(
                record.channel_id,
                MessageBody(
                    content=text,
                    allowed_mentions={"parse": []},
                    nonce=nonce(record.name, what),
                    enforce_nonce=True,
                ),
            )
        except DiscordError as e:
            log.warning("session_notice_failed", session_id=record.name, error=str(e))

    async def end(self, record: SessionRecord) -> None:
        """``/end``: ask the operator to end the session, then finish the channel."""
        await self.ctx.sessions.end(record.name)
        await self.finish(self.ctx.sessions.get(record.name) or record)

    async def finish(self, record: SessionRecord) -> None:
        """Summary, lock, schedule deletion: once per session across replicas."""
        if not await self._claim(record.name, "finished"):
            return
        await self._post(record, summary_text(record, datetime.now(UTC)), "summary")
        try:
            await self.ctx.rest.put_overwrite(
                record.channel_id,
                Overwrite(
                    id=record.owner_id, type=1, allow=str(VIEW_CHANNEL), deny=str(SEND_MESSAGES)
                ),
            )
        except DiscordError as e:
            log.warning("channel_lock_failed", session_id=record.name, error=str(e))
        due = time.time() + self.ctx.settings.discord.channel_retention_seconds
        await self.ctx.redis.zadd(self.ctx.space.gateway("retention"), {record.channel_id: due})

    async def expire_channels(self, now: float | None = None) -> list[str]:
        """Delete channels whose retention passed; each is claimed by one replica."""
        key = self.ctx.space.gateway("retention")
        due = await zdue(self.ctx.redis, key, now or time.time())
        deleted: list[str] = []
        for channel_id in due:
            if not await self.ctx.redis.zrem(key, channel_id):
                continue
            try:
                await self.ctx.rest.delete_channel(channel_id)
            except DiscordRejected as e:
                if e.status != 404:
                    log.warning("channel_delete_failed", channel_id=channel_id, error=str(e))
                    continue
            except DiscordError:
                await self.ctx.redis.zadd(key, {channel_id: time.time() + 60})
                continue
            deleted.append(channel_id)
        return deleted

    async def run_janitor(self, interval: float = 30.0) -> None:
        while True:
            try:
                await self.expire_channels()
            except Exception:
                log.exception("janitor_failed")
            await asyncio.sleep(interval)
