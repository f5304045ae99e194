"""The turn loop: one session's turns, in order, each finished exactly once.

- Turns are read from ``…session.<sid>.turns`` with a consumer group. A turn is
  acknowledged only in the same MULTI/EXEC that writes its ``final`` (or ``error``)
  event and its done-marker (keyed by the envelope's idempotency key): after a crash
  the turn is delivered again and run again, and a re-delivered turn that had finished
  is acknowledged without running.
- ``…session.<sid>.control`` carries ``session.cancel`` (the running turn is aborted
  and ends with ``final``/``cancelled``), ``session.turn`` with ``mode=immediate``
  (steering: the running model call is aborted and the new text sent in the same turn,
  or queued as a turn when nothing runs) and ``approval_decision``.
- Text commands (``/model <name>``, ``/mcp``, ``/policy reload``) are answered by the
  runtime itself, without the model.
- Budgets stop a turn cleanly: the engine is aborted and the turn ends with an
  ``error`` event carrying ``TIMEOUT_TURN`` or ``PROVIDER_BUDGET_EXCEEDED``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
import structlog

from cephalon_contracts.envelope import Envelope, PayloadModel, new_trace_id
from cephalon_contracts.errors import ErrorCode, ErrorEnvelope
from cephalon_contracts.events import (
    ApprovalDecision,
    ApprovalRequest,
    ErrorEvent,
    Final,
    FinalStatus,
    ResponseDelta,
    RiskLevel,
    ToolCall,
)
from cephalon_contracts.heartbeat import TurnProgress
from cephalon_contracts.keys import session_key_prefix
from cephalon_contracts.social import Cancel, TurnMode, TurnRequest
from cephalon_contracts.urns import to_urn

from .approvals import ApprovalBroker, GateDecision, ToolGate
from .attachments import fetch_attachments
from .budgets import SessionUsage, TurnBudget, session_exhausted
from .bus import Delivery, EventPublisher, SessionBus
from .commands import Commands
from .engine.base import UNMATCHED_CALL_PREFIX, EngineEvent, EngineSession
from .errors import (
    EngineError,
    McpError,
    McpToolTimeoutError,
    ModelError,
    RuntimeFailure,
    TurnTimeoutError,
)
from .events import EventMapper
from .heartbeat import HeartbeatWriter, SessionState
from .mcp_servers import McpSupervisor, looks_like_outage
from .metrics import RuntimeMetrics
from .policy import PolicyManager
from .settings import RuntimeSettings

log = structlog.get_logger("cephalon_runtime.turns")

#: After an abort, how long to wait for the engine to report idle before giving up on it.
ABORT_GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class CancelSignal:
    reason: str


@dataclass(frozen=True)
class SteerSignal:
    text: str


@dataclass(frozen=True)
class StopSignal:
    error: RuntimeFailure


Signal = EngineEvent | CancelSignal | SteerSignal | StopSignal


@dataclass
class Turn:
    """A running turn: its identity, its queue of engine events and control signals."""

    turn_id: str
    trace_id: str
    budget: TurnBudget
    mapper: EventMapper
    queue: asyncio.Queue[Signal] = field(default_factory=asyncio.Queue)
    started: float = field(default_factory=time.monotonic)
    first_delta_at: float | None = None

    def signal(self, item: Signal) -> None:
        self.queue.put_nowait(item)


def _late_steering(turn: Turn) -> list[str]:
    """Steering texts that arrived while the engine was going idle (else they'd be lost)."""
    texts: list[str] = []
    while not turn.queue.empty():
        item = turn.queue.get_nowait()
        if isinstance(item, SteerSignal):
            texts.append(item.text)
    return texts


class TurnLoop:
    def __init__(
        self,
        *,
        settings: RuntimeSettings,
        bus: SessionBus,
        blobs: aioredis.Redis,
        engine: EngineSession,
        policy: PolicyManager,
        mcp: McpSupervisor,
        broker: ApprovalBroker,
        state: SessionState,
        heartbeat: HeartbeatWriter,
        metrics: RuntimeMetrics,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.blobs = blobs
        self.engine = engine
        self.policy = policy
        self.mcp = mcp
        self.broker = broker
        self.state = state
        self.heartbeat = heartbeat
        self.metrics = metrics
        self.session_usage = SessionUsage()
        self.current: Turn | None = None
        self.gate: ToolGate | None = None
        self.consuming = False
        self.stopping = False
        """Set before the loops are cancelled: a cancellation swallowed inside a client
        library (seen with blocking reads on Python 3.11) still ends them within ~1 s."""
        self.cancelled_turns: set[str] = set()
        """Queued turns cancelled before they started (they end at once when reached)."""
        self.publisher = EventPublisher(bus)
        self.commands = Commands(settings, engine, policy, mcp, state, heartbeat, metrics)
        s = settings.session
        self.system_urn = to_urn(s.provider, s.tenant, "session", s.id)

    # ------------------------------------------------------------------ consuming

    async def run(self) -> None:
        """Drain this consumer's unacknowledged turns, then consume new ones forever."""
        writer = asyncio.create_task(self.publisher.run(), name="event-publisher")
        try:
            await self._consume()
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    async def _consume(self) -> None:
        await self.bus.ensure_group()
        for delivery in await self.bus.pending_turns():
            await self.handle(delivery)
        self.consuming = True
        while not self.stopping:
            fresh = await self.bus.next_turn(block_ms=1000)
            if fresh is not None:
                await self.handle(fresh)

    async def run_control(self) -> None:
        await self.bus.start_control()
        while not self.stopping:
            for delivery in await self.bus.next_control(block_ms=1000):
                await self.on_control(delivery)

    async def handle(self, delivery: Delivery) -> None:
        message = delivery.message
        if message is None or not isinstance(message.payload, TurnRequest):
            problem = delivery.problem or f"not a turn: {message.type if message else '?'}"
            log.warning("turn_rejected", entry=delivery.entry_id, problem=problem)
            await self.publish_session_error(ErrorCode.INTERNAL_CONTRACT_VIOLATION, problem)
            await self.bus.ack(delivery.entry_id)
            return
        if await self.bus.is_done(message.idempotency_key):
            log.info("turn_already_finished", entry=delivery.entry_id)
            await self.bus.ack(delivery.entry_id)
            return
        turn_id = message.turn_id or message.id
        structlog.contextvars.bind_contextvars(
            trace_id=message.trace_id, session_id=self.settings.session.id, turn_id=turn_id
        )
        started = time.monotonic()
        self.state.busy = True
        self.metrics.busy.set(1)
        self.state.touch()
        self.state.progress = TurnProgress(turn=self.state.turns + 1, step="started")
        self.heartbeat.poke()
        broken: EngineError | None = None
        try:
            terminal = await self.run_turn(message, message.payload, turn_id)
        except RuntimeFailure as e:
            terminal = ErrorEvent(error=e.to_envelope(message.trace_id))
            if isinstance(e, EngineError) and not isinstance(e, ModelError):
                broken = e  # the engine itself is gone: finish this turn, then give up
        except Exception as e:  # a bug: still finish the turn, never leave it hanging
            log.exception("turn_crashed")
            terminal = ErrorEvent(
                error=ErrorEnvelope(
                    error_code=ErrorCode.INTERNAL_ERROR,
                    message=f"the runtime failed: {type(e).__name__}",
                    trace_id=message.trace_id,
                    retryable=False,
                )
            )
        outcome = terminal.status.value if isinstance(terminal, Final) else "error"
        await self.publisher.flush()
        await self.bus.finish(
            self.bus.wrap(terminal, trace_id=message.trace_id, turn_id=turn_id),
            delivery.entry_id,
            message.idempotency_key,
        )
        self.metrics.events.labels(terminal.type).inc()
        self.metrics.turns.labels(outcome).inc()
        self.metrics.turn_seconds.observe(time.monotonic() - started)
        log.info("turn_finished", outcome=outcome, ms=int((time.monotonic() - started) * 1000))
        self.state.busy = False
        self.metrics.busy.set(0)
        self.state.turns += 1
        self.state.usage = self.session_usage.as_usage()
        self.state.progress = TurnProgress(turn=self.state.turns, step=outcome)
        self.state.touch()
        self.heartbeat.poke()
        structlog.contextvars.unbind_contextvars("trace_id", "turn_id")
        if broken is not None:
            raise broken

    # ------------------------------------------------------------------ control

    async def on_control(self, delivery: Delivery) -> None:
        message = delivery.message
        if message is None:
            log.warning("control_rejected", entry=delivery.entry_id, problem=delivery.problem)
            return
        payload = message.payload
        turn = self.current
        if isinstance(payload, Cancel):
            if turn is not None and message.turn_id in (None, turn.turn_id):
                log.info("turn_cancel_requested", by=payload.requested_by)
                turn.signal(CancelSignal(payload.reason))
            elif message.turn_id is not None:
                self.cancelled_turns.add(message.turn_id)
        elif isinstance(payload, ApprovalDecision):
            matched = self.broker.decide(payload)
            if matched:
                self.publisher.put(
                    self.bus.wrap(
                        payload,
                        trace_id=turn.trace_id if turn else message.trace_id,
                        turn_id=turn.turn_id if turn else message.turn_id,
                    )
                )
        elif isinstance(payload, TurnRequest) and payload.mode is TurnMode.IMMEDIATE:
            if turn is not None:
                turn.signal(SteerSignal(payload.text))
            else:
                await self.bus.requeue(message)

    # ------------------------------------------------------------------ one turn

    async def publish(self, turn: Turn, payload: PayloadModel) -> None:
        """Queue one event of ``turn`` (written in order, batched; never waits on Redis)."""
        self.publisher.put(self.bus.wrap(payload, trace_id=turn.trace_id, turn_id=turn.turn_id))
        self.metrics.events.labels(payload.type).inc()

    async def publish_session_error(
        self, code: ErrorCode, message: str, details: dict[str, Any] | None = None
    ) -> None:
        """An ``error`` event about the session, not a turn (``turn_id`` is empty)."""
        trace_id = new_trace_id()
        error = ErrorEnvelope(
            error_code=code,
            message=message[:2000],
            trace_id=trace_id,
            retryable=False,
            details={
                k: v for k, v in (details or {}).items() if isinstance(v, str | int | float | bool)
            },
        )
        await self.bus.publish(
            self.bus.wrap(ErrorEvent(error=error), trace_id=trace_id, turn_id=None)
        )

    async def run_turn(
        self, message: Envelope, request: TurnRequest, turn_id: str
    ) -> Final | ErrorEvent:
        trace_id = message.trace_id
        if turn_id in self.cancelled_turns:
            self.cancelled_turns.discard(turn_id)
            return Final(status=FinalStatus.CANCELLED)
        text = request.text.strip()
        if text.startswith("/"):
            command = await self.commands.run(text, trace_id)
            if command is not None:
                return command
        if request.overrides.model and request.overrides.model != self.commands.model:
            await self.commands.switch_model(request.overrides.model)
        exhausted = session_exhausted(self.settings.budgets, self.session_usage)
        if exhausted is not None:
            raise exhausted
        attachments = await fetch_attachments(
            self.blobs,
            list(request.attachments),
            spec=self.settings.attachments,
            key_prefix=session_key_prefix(
                provider=self.settings.session.provider,
                tenant=self.settings.session.tenant,
                session_id=self.settings.session.id,
                root=self.settings.topic_root,
            ),
            workspace=self.settings.workspace.path,
            turn_id=turn_id,
        )
        budget = TurnBudget(self.settings.budgets, self.session_usage)
        mapper = EventMapper(
            risk_of=self.policy.risk_of,
            server_of=lambda tool: (self.mcp.split_tool(tool) or (None, ""))[0],
        )
        turn = Turn(turn_id=turn_id, trace_id=trace_id, budget=budget, mapper=mapper)
        self.gate = ToolGate(
            risk_of=self.policy.risk_of,
            broker=self.broker,
            publish=lambda req: self._publish_approval(turn, req),
            timeout_seconds=self.settings.approvals.timeout_seconds,
            charge_tool_call=budget.charge_tool_call,
            mcp_gate=self._mcp_gate,
        )
        prompt = request.text
        if self.commands.policy_notice:
            prompt = (
                "The session policy was reloaded; these instructions replace the earlier"
                f" policy:\n\n{self.policy.system_message()}\n\n---\n\n{prompt}"
            )
            self.commands.policy_notice = False
        self.current = turn
        unsubscribe = self.engine.subscribe(turn.signal)
        try:
            await self.engine.send(prompt, attachments)
            return await self._drive(turn)
        finally:
            unsubscribe()
            self.current = None
            self.gate = None
            self.broker.deny_all(self.system_urn, "the turn ended")

    async def _drive(self, turn: Turn) -> Final | ErrorEvent:
        cancelled = False
        stop: RuntimeFailure | None = None
        steer: list[str] = []
        aborted_at: float | None = None
        budget, mapper = turn.budget, turn.mapper
        # MCP calls in flight: call id → (deadline, server, tool). The CLI only knows a
        # per-server timeout, so per-tool timeouts are kept here.
        deadlines: dict[str, tuple[float, str, str]] = {}
        while True:
            now = time.monotonic()
            if aborted_at is not None:
                timeout = aborted_at + ABORT_GRACE_SECONDS - now
            else:
                timeout = budget.remaining_seconds()
                if deadlines:
                    timeout = min(timeout, min(d for d, _, _ in deadlines.values()) - now)
            try:
                async with asyncio.timeout(max(timeout, 0)):
                    item = await turn.queue.get()
            except TimeoutError:
                if aborted_at is not None:
                    log.warning("engine_did_not_go_idle_after_abort")
                    break
                expired = self._expire_tools(turn, deadlines)
                if expired:
                    steer.extend(expired)
                    aborted_at = time.monotonic()
                    await self.engine.abort()
                    continue
                item = StopSignal(
                    TurnTimeoutError(
                        "turn_seconds", budget.limits.turn_seconds, budget.limits.turn_seconds
                    )
                )
            if isinstance(item, CancelSignal | StopSignal | SteerSignal):
                if isinstance(item, CancelSignal):
                    cancelled = True
                    self.broker.deny_all(self.system_urn, "the turn was cancelled")
                elif isinstance(item, StopSignal):
                    stop = stop or item.error
                    self.broker.deny_all(self.system_urn, "the turn was stopped")
                else:
                    steer.append(item.text)
                if aborted_at is None:
                    aborted_at = time.monotonic()
                    await self.engine.abort()
                continue
            for payload in mapper.map(item.kind, item.data):
                await self._emit(turn, payload)
                if isinstance(payload, ToolCall) and payload.server is not None:
                    tool = payload.tool[len(payload.server) + 1 :]
                    limit = self.mcp.timeout_for(payload.server, tool)
                    deadlines[payload.call_id] = (time.monotonic() + limit, payload.server, tool)
            if mapper.usage != (0, 0):
                budget.add_usage(*mapper.usage)
                self.metrics.tokens.labels("input").inc(mapper.usage[0])
                self.metrics.tokens.labels("output").inc(mapper.usage[1])
                self.state.usage = self.session_usage.as_usage()
            if mapper.finished_tool is not None:
                call_id, tool, ok, error = mapper.finished_tool
                deadlines.pop(call_id, None)
                split = self.mcp.split_tool(tool)
                if split is not None and call_id not in mapper.refusals:
                    # a tool that answered with an error is no outage of its server
                    if ok or looks_like_outage(error):
                        self.mcp.record(split[0], ok, error)
            if stop is None and (over := budget.exceeded()) is not None:
                turn.signal(StopSignal(over))
            if mapper.failure is not None and aborted_at is None:
                aborted_at = time.monotonic()  # the engine gave up; idle should follow
            if not mapper.idle:
                continue
            steer += _late_steering(turn)
            if steer and not cancelled and stop is None:
                text = "\n\n".join(steer)
                steer.clear()
                mapper.idle = mapper.aborted = False
                aborted_at = None
                await self.engine.send(text, [])
                continue
            break
        usage = budget.usage
        duration = int((time.monotonic() - turn.started) * 1000)
        if stop is not None:
            return ErrorEvent(error=stop.to_envelope(turn.trace_id))
        if cancelled:
            return Final(
                status=FinalStatus.CANCELLED, text=mapper.text, usage=usage, duration_ms=duration
            )
        if mapper.failure is not None:
            failure = mapper.failure
            code = (
                ErrorCode.RATE_LIMIT_MODEL
                if failure.status_code == 429
                else ErrorCode.PROVIDER_UNAVAILABLE
            )
            raise ModelError(
                f"the model failed ({failure.error_type}): {failure.message}",
                code=code,
                details={"error_type": failure.error_type, "status_code": failure.status_code},
            )
        return Final(
            status=FinalStatus.COMPLETED, text=mapper.text, usage=usage, duration_ms=duration
        )

    def _expire_tools(self, turn: Turn, deadlines: dict[str, tuple[float, str, str]]) -> list[str]:
        """End the MCP calls past their timeout: a failed result each, a failure on the
        server's circuit, and the note the model gets when the turn resumes."""
        now = time.monotonic()
        notes: list[str] = []
        for call_id, (deadline, server, tool) in list(deadlines.items()):
            if deadline > now:
                continue
            del deadlines[call_id]
            error = McpToolTimeoutError(
                server, tool, f"after {self.mcp.timeout_for(server, tool):g} s"
            )
            self.mcp.record(server, False, "timeout")
            summary = turn.mapper.fail_tool(call_id, f"{error.code.value}: {error.message}")
            if summary is not None:
                self.publisher.put(
                    self.bus.wrap(summary, trace_id=turn.trace_id, turn_id=turn.turn_id)
                )
            log.info("tool_timed_out", server=server, tool=tool, call_id=call_id)
            notes.append(
                f"The call to {server}-{tool} was stopped: {error.message}. "
                "Continue without its result."
            )
        return notes

    async def _emit(self, turn: Turn, payload: PayloadModel) -> None:
        await self.publish(turn, payload)
        if isinstance(payload, ResponseDelta):
            if turn.first_delta_at is None:
                turn.first_delta_at = time.monotonic()
                self.metrics.first_delta_seconds.observe(turn.first_delta_at - turn.started)
                self._progress(turn, "responding", "")
        elif isinstance(payload, ToolCall):
            self._progress(turn, "tool", payload.tool)

    def _progress(self, turn: Turn, step: str, message: str) -> None:
        self.state.progress = TurnProgress(
            turn=self.state.turns + 1, step=step, message=message[:500]
        )
        self.state.touch()
        self.heartbeat.poke()

    async def _publish_approval(self, turn: Turn, request: ApprovalRequest) -> None:
        self._progress(turn, "awaiting_approval", request.tool)
        await self.publish(turn, request)

    def _mcp_gate(self, tool: str) -> McpError | None:
        split = self.mcp.split_tool(tool)
        return None if split is None else self.mcp.gate(*split)

    async def decide(self, tool: str, arguments: Any, call_id: str) -> GateDecision:
        """The engine's gate: refuse everything outside a turn, else ask the turn's gate."""
        gate, turn = self.gate, self.current
        if gate is None or turn is None:
            return GateDecision(False, RiskLevel.RESTRICTED, "no turn is running")
        decision = await gate.decide(tool, arguments, call_id)
        self.metrics.tool_calls.labels(
            decision.risk.value, "allow" if decision.allow else "deny"
        ).inc()
        if not decision.allow:
            code = decision.error.code.value if decision.error else "POLICY_DENIED"
            refusal = f"{code}: {decision.reason}"
            if call_id.startswith(UNMATCHED_CALL_PREFIX):
                # the engine could not tell the call id: match the refusal by tool name
                turn.mapper.unmatched_refusals.setdefault(tool, []).append(refusal)
            else:
                turn.mapper.refusals[call_id] = refusal
            log.info("tool_refused", tool=tool, call_id=call_id, reason=decision.reason)
            if decision.stop_turn and decision.error is not None:
                turn.signal(StopSignal(decision.error))
        return decision
