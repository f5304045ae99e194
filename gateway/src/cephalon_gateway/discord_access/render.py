"""The renderer: a session's events stream, shown in its Discord channel.

Each session is rendered by one replica at a time (a lease in Redis) through a
consumer group whose single consumer name is shared by all replicas, so a replica
that takes over after a crash first replays exactly the entries its predecessor had
not acknowledged.

An entry is acknowledged only once its effect is safe: deltas, plans and tool events
once they are merged into the turn's view persisted in Redis (the view *is* the
persisted render queue: desired text and activity versus what Discord shows); an
approval, error or final answer only once Discord has it. Posts carry a nonce derived
from the session, turn and chunk (or the event id) with ``enforce_nonce``, so a post
repeated after a crash returns the first message instead of a second one. Edits are
coalesced to one per message per ``edit_interval_seconds``; the answer is split at
2,000 characters without breaking code fences. Transient Discord failures are
retried with backoff; permanent ones go to a dead-letter stream with a metric and an
error log, never silently.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import structlog

from cephalon_contracts import (
    Action,
    ApprovalRequest,
    ContractError,
    DecisionSummary,
    Envelope,
    ErrorEvent,
    Final,
    FinalStatus,
    Plan,
    ResponseDelta,
    ToolCall,
    ToolResultSummary,
    decode_envelope,
)

from .chunking import split_message
from .coalesce import EditClock
from .context import GatewayContext, nonce
from .custom_ids import approve_id, deny_id
from .embeds import Embed, ToolLine, activity_embed, approval_embed
from .errors import DiscordError, DiscordRejected, DiscordTransient
from .payloads import BUTTON_DANGER, BUTTON_SUCCESS, MessageBody, button, row
from .sessions import TERMINAL, SessionRecord
from .streams import COMPARE_AND_DELETE, ensure_group, hget, hset, read_group

log = structlog.get_logger(__name__)

GROUP = "cephalon-gateway"
CONSUMER = "render"
VIEW_TTL = 7 * 24 * 3600
MAX_TOOLS = 25
#: Stop the typing indicator when a turn has had no event for this long.
TYPING_WITHOUT_EVENTS_SECONDS = 60.0
#: How long a replica keeps rendering a session after seeing it Ended or Failed.
ENDED_GRACE_SECONDS = 120.0
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


@dataclass
class TurnView:
    """What a turn should look like in Discord and what Discord shows of it."""

    turn_id: str
    text: str = ""
    next_seq: int = 0
    pending: dict[str, str] = field(default_factory=dict)
    final: bool = False
    final_entry: str | None = None
    done: bool = False
    messages: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    plan: list[list[str]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    activity_id: str | None = None
    activity_shown: str = ""

    def add_delta(self, seq: int, text: str) -> bool:
        if seq < self.next_seq or str(seq) in self.pending:
            return False
        self.pending[str(seq)] = text
        while str(self.next_seq) in self.pending:
            self.text += self.pending.pop(str(self.next_seq))
            self.next_seq += 1
        return True

    def activity(self) -> Embed | None:
        if not self.plan and not self.tools and not self.note:
            return None
        embed = activity_embed([(t, s) for t, s in self.plan], [ToolLine(**t) for t in self.tools])
        if self.note:
            embed["footer"] = {"text": self.note[:2048]}
        return embed

    def desired_chunks(self) -> list[str]:
        return split_message(self.text)

    @property
    def answer_dirty(self) -> bool:
        return self.desired_chunks() != self.shown

    @property
    def activity_dirty(self) -> bool:
        embed = self.activity()
        return embed is not None and json.dumps(embed, sort_keys=True) != self.activity_shown

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> TurnView:
        return cls(**json.loads(raw))


def _same_embed(shown: dict[str, Any], wanted: Embed) -> bool:
    """Whether Discord's copy of an embed shows what ``wanted`` says (Discord adds
    fields of its own, such as ``type``, so whole dicts do not compare)."""
    keys = ("title", "description")
    if any(shown.get(k) != wanted.get(k) for k in keys):
        return False
    fields = [(f.get("name"), f.get("value")) for f in shown.get("fields") or []]
    return fields == [(f.get("name"), f.get("value")) for f in wanted.get("fields") or []]


class SessionRenderer:
    """Renders one session while this replica holds its lease."""

    def __init__(self, ctx: GatewayContext, session_id: str, channel_id: str) -> None:
        self.ctx = ctx
        self.session_id = session_id
        self.channel_id = channel_id
        self.stream = ctx.space.events(session_id)
        self.views: dict[str, TurnView] = {}
        self.clock = EditClock(ctx.settings.discord.edit_interval_seconds)
        self._typing_at: dict[str, float] = {}
        self._shown_at = -1e9  # last post or edit in the channel (monotonic)
        self._event_at: dict[str, float] = {}  # last event of each live turn (monotonic)
        self._state_key = ctx.space.gateway(f"render.{session_id}")
        self._log = log.bind(session_id=session_id)

    # ------------------------------------------------------------------ loop

    async def run(self) -> None:
        await self._ensure_group()
        cursor = "0"  # replay what a predecessor left unacknowledged, then new entries
        while True:
            block = None if cursor != ">" else self._block_ms()
            entries = await read_group(
                self.ctx.stream_redis, GROUP, CONSUMER, self.stream, cursor, count=100, block=block
            )
            if cursor != ">":
                if not entries:
                    cursor = ">"
                else:
                    cursor = entries[-1][0]
            for entry_id, fields in entries:
                await self._handle(entry_id, fields)
            await self.flush()

    def _block_ms(self) -> int:
        waits = [
            self.clock.wait(m, time.monotonic())
            for v in self.views.values()
            if not v.done and (v.answer_dirty or v.activity_dirty)
            for m in (v.messages[-1:] or ["-"])
        ]
        now = time.monotonic()
        if any(
            now - self._event_at.get(v.turn_id, 0.0) < TYPING_WITHOUT_EVENTS_SECONDS
            for v in self.views.values()
        ):
            waits.append(self.ctx.settings.discord.typing_interval_seconds)
        return max(20, int(min(waits, default=2.0) * 1000)) if waits else 2000

    async def _ensure_group(self) -> None:
        await ensure_group(self.ctx.redis, self.stream, GROUP)

    async def _ack(self, entry_id: str) -> None:
        await self.ctx.redis.xack(self.stream, GROUP, entry_id)

    async def _view(self, turn_id: str) -> TurnView:
        view = self.views.get(turn_id)
        if view is None:
            raw = await hget(self.ctx.redis, self._state_key, turn_id)
            view = TurnView.from_json(raw) if raw else TurnView(turn_id=turn_id)
            self.views[turn_id] = view
        return view

    async def _save(self, view: TurnView) -> None:
        await hset(self.ctx.redis, self._state_key, {view.turn_id: view.to_json()})
        await self.ctx.redis.expire(self._state_key, VIEW_TTL)

    # ------------------------------------------------------------------ events

    async def _handle(self, entry_id: str, fields: dict[str, str]) -> None:
        try:
            message = decode_envelope(fields.get("envelope", ""))
        except ContractError as e:
            await self._dead_letter(entry_id, fields.get("envelope", ""), f"undecodable: {e}")
            await self._ack(entry_id)
            return
        payload = message.payload
        view = await self._view(message.turn_id or "session")
        if view.done:
            self.views.pop(view.turn_id, None)
            await self._ack(entry_id)
            return
        self._event_at[view.turn_id] = time.monotonic()
        self.ctx.metrics.events_rendered.labels(event=payload.type).inc()
        if isinstance(payload, ResponseDelta):
            view.add_delta(payload.seq, payload.text)
        elif isinstance(payload, Plan):
            view.plan = [[s.title, s.status.value] for s in payload.steps]
        elif isinstance(payload, ToolCall):
            view.tools = [t for t in view.tools if t["call_id"] != payload.call_id][-MAX_TOOLS:]
            view.tools.append(
                asdict(
                    ToolLine(
                        call_id=payload.call_id,
                        tool=payload.tool,
                        arguments=payload.arguments_summary,
                        risk=payload.risk.value,
                    )
                )
            )
        elif isinstance(payload, ToolResultSummary):
            for tool in view.tools:
                if tool["call_id"] == payload.call_id:
                    tool.update(
                        ok=payload.ok, summary=payload.summary, duration_ms=payload.duration_ms
                    )
        elif isinstance(payload, Action):
            view.note = f"▶ {payload.intent}"
        elif isinstance(payload, DecisionSummary):
            view.note = f"💡 {payload.summary}"
        elif isinstance(payload, ApprovalRequest):
            await self._retrying(lambda: self._post_approval(message, payload), entry_id, message)
        elif isinstance(payload, ErrorEvent):
            await self._retrying(lambda: self._post_error(message, payload), entry_id, message)
        elif isinstance(payload, Final):
            self._apply_final(view, payload)
            view.final_entry = entry_id
            await self._save(view)
            await self._finish(view, message)
            return
        await self._save(view)
        await self._ack(entry_id)

    def _apply_final(self, view: TurnView, final: Final) -> None:
        if view.final:
            return
        text = final.text or view.text
        if final.status is FinalStatus.CANCELLED:
            text = (text + "\n\n" if text else "") + "_Turn cancelled._"
        elif final.status is FinalStatus.FAILED:
            text = (text + "\n\n" if text else "") + "_The turn failed._"
        view.text = text
        view.final = True

    async def _finish(self, view: TurnView, message: Envelope) -> None:
        async def render() -> None:
            await self._sync_activity(view, wait=True)
            await self._sync_answer(view, wait=True)

        await self._retrying(render, view.final_entry or "", message)
        view.done = True
        await self._save(view)
        if view.final_entry:
            await self._ack(view.final_entry)
        self.views.pop(view.turn_id, None)
        self._typing_at.pop(view.turn_id, None)
        self._event_at.pop(view.turn_id, None)

    async def _retrying(self, step: Any, entry_id: str, message: Envelope) -> None:
        """Run ``step`` until it succeeds; permanent failures go to the dead letters."""
        delay = 0.5
        while True:
            try:
                await step()
                return
            except DiscordTransient as e:
                self.ctx.metrics.render_failures.labels(event=message.type).inc()
                self._log.warning("render_retry", event=message.type, error=str(e), delay=delay)
                await asyncio.sleep(delay + random.uniform(0, delay / 2))
                delay = min(delay * 2, 30.0)
            except DiscordRejected as e:
                self._log.error("render_dead_letter", event=message.type, error=str(e))
                await self._dead_letter(entry_id, message.model_dump_json(), str(e))
                return

    async def _dead_letter(self, entry_id: str, raw: str, reason: str) -> None:
        self.ctx.metrics.dead_letters.labels(kind="render").inc()
        await self.ctx.redis.xadd(
            self.ctx.space.gateway("deadletter"),
            {"kind": "render", "session": self.session_id, "entry": entry_id,
             "reason": reason[:500], "envelope": raw},
            maxlen=10_000,
            approximate=True,
        )  # fmt: skip

    # ------------------------------------------------------------------ Discord

    async def flush(self) -> None:
        """One pass over the live turns: typing, activity and answer edits that are due."""
        for view in list(self.views.values()):
            if view.done or view.final:
                continue
            try:
                quiet = not view.answer_dirty and not view.activity_dirty
                if view.turn_id not in self._typing_at and quiet:  # started, nothing to show
                    await self._typing(view)
                await self._sync_answer(view, wait=False)
                await self._sync_activity(view, wait=False)
                await self._typing(view)
            except DiscordTransient as e:
                self.ctx.metrics.render_failures.labels(event="response_delta").inc()
                self._log.warning("render_flush_failed", error=str(e))
            except DiscordRejected as e:
                self._log.error("render_flush_rejected", error=str(e))
                self.ctx.metrics.render_failures.labels(event="response_delta").inc()

    async def _typing(self, view: TurnView) -> None:
        """Show "typing…" when a turn starts and while it runs quietly: a visible update
        already tells the user the agent is working, so later typing is sent only when
        nothing was posted or edited for a typing interval (each costs a request from
        the shared budget)."""
        now = time.monotonic()
        if now - self._event_at.get(view.turn_id, now) > TYPING_WITHOUT_EVENTS_SECONDS:
            return  # the runtime went quiet (or the events had no turn): stop typing
        interval = self.ctx.settings.discord.typing_interval_seconds
        if view.turn_id not in self._typing_at and now - self._shown_at < interval:
            self._typing_at[view.turn_id] = now  # it started with something to show
            return
        last = max(self._typing_at.get(view.turn_id, -interval), self._shown_at)
        if view.turn_id in self._typing_at and now - last < interval:
            return
        self._typing_at[view.turn_id] = now
        try:
            await self.ctx.rest.typing(self.channel_id)
        except DiscordError as e:
            self._log.debug("typing_failed", error=str(e))

    def _mark(self, message_id: str) -> None:
        now = time.monotonic()
        self.clock.edited(message_id, now)
        self._shown_at = now

    async def _wait_clock(self, message_id: str, wait: bool) -> bool:
        delay = self.clock.wait(message_id, time.monotonic())
        if delay <= 0:
            return True
        if not wait:
            return False
        await asyncio.sleep(delay)
        return True

    async def _sync_activity(self, view: TurnView, *, wait: bool) -> None:
        embed = view.activity()
        if embed is None:
            return
        shown = json.dumps(embed, sort_keys=True)
        if shown == view.activity_shown:
            return
        body = MessageBody(embeds=[embed])
        if view.activity_id is None:
            body["nonce"] = nonce(self.session_id, view.turn_id, "activity")
            body["enforce_nonce"] = True
            sent = await self.ctx.rest.send_message(self.channel_id, body)
            view.activity_id = sent["id"]
            self._mark(sent["id"])
            embeds = sent.get("embeds")
            first = embeds[0] if isinstance(embeds, list) and embeds else {}
            if not _same_embed(first if isinstance(first, dict) else {}, embed):
                # A predecessor's message with an older embed (see _sync_answer).
                await self._save(view)
                return await self._sync_activity(view, wait=wait)
        else:
            if not await self._wait_clock(view.activity_id, wait):
                return
            await self.ctx.rest.edit_message(self.channel_id, view.activity_id, body)
            self._mark(view.activity_id)
        view.activity_shown = shown
        await self._save(view)

    async def _sync_answer(self, view: TurnView, *, wait: bool) -> None:
        chunks = view.desired_chunks()
        for index, chunk in enumerate(chunks):
            if index < len(view.shown) and view.shown[index] == chunk:
                continue
            if index < len(view.messages):
                message_id = view.messages[index]
                if not await self._wait_clock(message_id, wait):
                    continue
                try:
                    await self.ctx.rest.edit_message(
                        self.channel_id, message_id, MessageBody(content=chunk)
                    )
                except DiscordRejected as e:
                    if e.status != 404:
                        raise
                    # Someone deleted the message: post the chunk again below.
                    view.messages = view.messages[:index]
                    view.shown = view.shown[:index]
                    await self._save(view)
                    return await self._sync_answer(view, wait=wait)
                self._mark(message_id)
                view.shown[index] = chunk
            else:
                sent = await self.ctx.rest.send_message(
                    self.channel_id,
                    MessageBody(
                        content=chunk,
                        allowed_mentions={"parse": []},
                        nonce=nonce(self.session_id, view.turn_id, str(index)),
                        enforce_nonce=True,
                    ),
                )
                view.messages.append(sent["id"])
                # What Discord shows, not what was sent: after a crash the nonce returns
                # the predecessor's message, whose text may be older. Correct it now.
                shown = str(sent.get("content", chunk))
                view.shown.append(shown)
                self._mark(sent["id"])
                if shown != chunk:
                    await self._save(view)
                    return await self._sync_answer(view, wait=wait)
            await self._save(view)
        for index in range(len(chunks), len(view.messages)):
            if view.shown[index] != "\u200b":
                await self.ctx.rest.edit_message(
                    self.channel_id, view.messages[index], MessageBody(content="\u200b")
                )
                view.shown[index] = "\u200b"
                await self._save(view)
        return None

    async def _post_approval(self, message: Envelope, request: ApprovalRequest) -> None:
        body = MessageBody(
            content="",
            embeds=[
                approval_embed(
                    tool=request.tool,
                    risk=request.risk.value,
                    arguments=request.arguments_summary,
                    reason=request.reason,
                    expires=f"<t:{int(request.expires_at.timestamp())}:R>",
                )
            ],
            components=[
                row(
                    button("Approve", approve_id(self.session_id, request.request_id),
                           BUTTON_SUCCESS),
                    button("Deny", deny_id(self.session_id, request.request_id), BUTTON_DANGER),
                )
            ],
            nonce=nonce(self.session_id, "approval", request.request_id),
            enforce_nonce=True,
        )  # fmt: skip
        sent = await self.ctx.rest.send_message(self.channel_id, body)
        key = self.ctx.space.gateway(f"approval.{self.session_id}.{request.request_id}")
        await hset(
            self.ctx.redis,
            key,
            {
                "channel": self.channel_id,
                "message": sent["id"],
                "tool": request.tool,
                "risk": request.risk.value,
                "arguments": request.arguments_summary,
                "reason": request.reason,
                "expires_at": str(request.expires_at.timestamp()),
            },
        )
        await self.ctx.redis.expire(key, 7 * 24 * 3600)

    async def _post_error(self, message: Envelope, event: ErrorEvent) -> None:
        error = event.error
        body = MessageBody(
            content=(
                f"⚠️ {error.message}\n-# `{error.error_code.value}` · trace `{error.trace_id}`"
            )[:2000],
            allowed_mentions={"parse": []},
            nonce=nonce(self.session_id, "error", message.id),
            enforce_nonce=True,
        )
        await self.ctx.rest.send_message(self.channel_id, body)


class RenderManager:
    """Starts a renderer for each session whose lease this replica wins, renews the
    leases, and stops renderers for sessions that went away or whose lease was lost."""

    def __init__(self, ctx: GatewayContext, *, lease_seconds: float = 15.0) -> None:
        self.ctx = ctx
        self.lease_ms = int(lease_seconds * 1000)
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._ended_at: dict[str, float] = {}
        self._renew = ctx.redis.register_script(_RENEW)
        self._release = ctx.redis.register_script(COMPARE_AND_DELETE)

    def _wanted(self) -> dict[str, SessionRecord]:
        """Live sessions, and ended ones for a grace period (their last events)."""
        now = time.monotonic()
        wanted: dict[str, SessionRecord] = {}
        for record in self.ctx.sessions.all():
            if record.phase in TERMINAL:
                ended = self._ended_at.setdefault(record.name, now)
                if now - ended > ENDED_GRACE_SECONDS:
                    continue
            wanted[record.name] = record
        return wanted

    def _lease_key(self, session_id: str) -> str:
        return self.ctx.space.gateway(f"lease.render.{session_id}")

    async def run(self) -> None:
        try:
            while True:
                await self.tick()
                await asyncio.sleep(min(1.0, self.lease_ms / 3000))
        finally:
            await self.stop()

    async def tick(self) -> None:
        me = self.ctx.settings.replica
        wanted = self._wanted()
        for session_id, task in list(self.tasks.items()):
            if task.done():
                self.tasks.pop(session_id)
                if not task.cancelled() and task.exception() is not None:
                    log.error("renderer_crashed", session_id=session_id,
                              error=repr(task.exception()))  # fmt: skip
                continue
            renewed = await self._renew(
                keys=[self._lease_key(session_id)], args=[me, self.lease_ms]
            )
            if session_id not in wanted or not renewed:
                task.cancel()
                self.tasks.pop(session_id)
        for session_id, record in wanted.items():
            if session_id in self.tasks:
                continue
            won = await self.ctx.redis.set(
                self._lease_key(session_id), me, nx=True, px=self.lease_ms
            )
            if won:
                renderer = SessionRenderer(self.ctx, session_id, record.channel_id)
                self.tasks[session_id] = asyncio.create_task(
                    renderer.run(), name=f"render-{session_id}"
                )
        self.ctx.metrics.active_renderers.set(len(self.tasks))

    async def stop(self, *, release: bool = True) -> None:
        tasks = list(self.tasks.items())
        self.tasks.clear()
        for _, task in tasks:
            task.cancel()
        for session_id, task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
            if not release:
                continue
            try:
                await self._release(
                    keys=[self._lease_key(session_id)], args=[self.ctx.settings.replica]
                )
            except Exception:  # Redis may already be gone at shutdown
                pass
