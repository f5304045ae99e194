"""Mapping Copilot SDK session events to Cephalon stream events (pure, no I/O).

============================== =====================================================
SDK event (``e.type.value``)   stream event
============================== =====================================================
``assistant.message_delta``    ``response_delta`` (``seq`` from 0; a new message after
                               text adds a ``"\\n\\n"`` separator)
``assistant.message``          ``response_delta`` only if it was not streamed
``assistant.intent``           ``action``
``report_intent`` tool call    ``action`` (the CLI's way of stating intent)
``session.plan_changed``,      ``plan``
``session.todos_changed``
``tool.execution_start``       ``tool_call`` (risk from policy, arguments redacted)
``tool.execution_complete``    ``tool_result_summary``
``assistant.usage``            token counts (no event; the turn's ``final`` has them)
``session.error``              remembered; the turn ends with ``error``
``session.idle``               the turn's end: ``final``
``assistant.reasoning*``       **never forwarded** (no raw chain-of-thought)
============================== =====================================================

The final text is exactly the concatenation of the turn's deltas.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cephalon_contracts.envelope import PayloadModel
from cephalon_contracts.events import (
    Action,
    Plan,
    PlanStep,
    PlanStepStatus,
    ResponseDelta,
    RiskLevel,
    ToolCall,
    ToolResultSummary,
)

from .approvals import policy_tool_name, summarise_arguments

#: Tools that only report; mapped to ``action``/``plan`` rather than shown as tool calls.
INTENT_TOOLS = frozenset({"report_intent"})
MAX_DELTA = 16_000


@dataclass(frozen=True)
class EngineFailure:
    """A ``session.error`` from the engine."""

    error_type: str
    message: str
    status_code: int | None


_PLAN_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[([ xX~-])\]\s+)?(.+?)\s*$")


def plan_from_markdown(text: str) -> list[dict[str, str]]:
    """The list items of a plan file as steps (``- [x]`` done, ``- [~]`` in progress)."""
    steps: list[dict[str, str]] = []
    for line in text.splitlines():
        match = _PLAN_ITEM.match(line)
        if match is None:
            continue
        mark = (match.group(1) or " ").lower()
        status = {"x": "done", "~": "in_progress", "-": "in_progress"}.get(mark, "pending")
        steps.append({"title": match.group(2), "status": status})
    return steps


def _get(data: Any, name: str, default: Any = None) -> Any:
    if data is None:
        return default
    if isinstance(data, dict):
        return data.get(name, default)
    return getattr(data, name, default)


def _status(value: Any) -> PlanStepStatus:
    text = str(getattr(value, "value", value) or "").lower()
    if text in {"done", "completed", "complete"}:
        return PlanStepStatus.DONE
    if text in {"in_progress", "in-progress", "active", "running"}:
        return PlanStepStatus.IN_PROGRESS
    return PlanStepStatus.PENDING


def _plan_steps(data: Any) -> list[PlanStep]:
    items: Any = None
    for name in ("todos", "plan", "steps", "items"):
        items = _get(data, name)
        if isinstance(items, list):
            break
    if not isinstance(items, list):
        return []
    steps: list[PlanStep] = []
    for item in items[:50]:
        title = next(
            (
                str(v)
                for v in (_get(item, k) for k in ("title", "content", "description", "text"))
                if v
            ),
            str(item) if isinstance(item, str) else "",
        )
        if title.strip():
            steps.append(PlanStep(title=title.strip()[:300], status=_status(_get(item, "status"))))
    return steps


@dataclass
class EventMapper:
    """The state of one turn's event stream; :meth:`map` turns one SDK event into ours."""

    risk_of: Callable[[str], RiskLevel]
    server_of: Callable[[str], str | None] = lambda tool: None
    clock: Callable[[], float] = time.monotonic
    seq: int = 0
    parts: list[str] = field(default_factory=list)
    message_id: str | None = None
    streamed_messages: set[str] = field(default_factory=set)
    started: dict[str, tuple[str, float]] = field(default_factory=dict)
    refusals: dict[str, str] = field(default_factory=dict)
    """call id → why the gate refused it (shown in the tool's result summary)."""
    unmatched_refusals: dict[str, list[str]] = field(default_factory=dict)
    """tool → refusals decided before the tool's call id was known."""
    usage: tuple[int, int] = (0, 0)
    """Tokens reported by the event just mapped (input, output)."""
    idle: bool = False
    aborted: bool = False
    failure: EngineFailure | None = None
    finished_tool: tuple[str, str, bool, str] | None = None
    """(call id, tool, ok, error text) of the tool call the event just mapped finished."""

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def _delta(self, text: str, message_id: str | None) -> list[PayloadModel]:
        if not text:
            return []
        out: list[PayloadModel] = []
        if message_id is not None and message_id != self.message_id:
            if self.parts and not self.text.endswith("\n\n"):
                text = "\n\n" + text
            self.message_id = message_id
        for start in range(0, len(text), MAX_DELTA):
            piece = text[start : start + MAX_DELTA]
            self.parts.append(piece)
            out.append(ResponseDelta(seq=self.seq, text=piece))
            self.seq += 1
        return out

    def map(self, kind: str, data: Any) -> list[PayloadModel]:
        self.usage = (0, 0)
        self.finished_tool = None
        if kind.startswith("assistant.reasoning"):
            return []
        if kind == "assistant.message_delta":
            message_id = _get(data, "message_id")
            if message_id is not None:
                self.streamed_messages.add(str(message_id))
            return self._delta(str(_get(data, "delta_content") or ""), _opt_str(message_id))
        if kind == "assistant.message":
            message_id = _opt_str(_get(data, "message_id"))
            if message_id is not None and message_id in self.streamed_messages:
                return []
            return self._delta(str(_get(data, "content") or ""), message_id or f"m{self.seq}")
        if kind == "assistant.intent":
            intent = str(_get(data, "intent") or "").strip()
            return [Action(intent=intent[:500])] if intent else []
        if kind in {"session.plan_changed", "session.todos_changed"}:
            steps = _plan_steps(data)
            return [Plan(steps=steps)] if steps else []
        if kind == "tool.execution_start":
            return self._tool_start(data)
        if kind == "tool.execution_complete":
            return self._tool_complete(data)
        if kind == "assistant.usage":
            self.usage = (
                int(_get(data, "input_tokens") or 0),
                int(_get(data, "output_tokens") or 0),
            )
            return []
        if kind == "session.error":
            code = _get(data, "status_code")
            self.failure = EngineFailure(
                error_type=str(_get(data, "error_type") or "error"),
                message=str(_get(data, "message") or "the agent engine failed")[:500],
                status_code=int(code) if isinstance(code, int) else None,
            )
            return []
        if kind == "abort":
            self.aborted = True
            return []
        if kind == "session.idle":
            self.idle = True
            if _get(data, "aborted"):
                self.aborted = True
            return []
        return []

    def _tool_start(self, data: Any) -> list[PayloadModel]:
        tool = str(_get(data, "tool_name") or "tool")
        call_id = str(_get(data, "tool_call_id") or f"call-{self.clock()}")
        arguments = _get(data, "arguments")
        if tool in INTENT_TOOLS:
            intent = str(_get(arguments, "intent") or "").strip()
            return [Action(intent=intent[:500])] if intent else []
        self.started[call_id] = (tool, self.clock())
        early = self.unmatched_refusals.get(tool)
        if early and call_id not in self.refusals:
            self.refusals[call_id] = early.pop(0)
        return [
            ToolCall(
                call_id=call_id[:128],
                tool=tool[:200],
                server=self.server_of(tool),
                risk=self.risk_of(policy_tool_name(tool, arguments)),
                arguments_summary=summarise_arguments(arguments, 1000),
            )
        ]

    def fail_tool(self, call_id: str, reason: str) -> ToolResultSummary | None:
        """End a running tool call from our side (it ran past its timeout); a late
        completion from the engine is then ignored."""
        begun = self.started.pop(call_id, None)
        if begun is None:
            return None
        tool, at = begun
        self.finished_tool = (call_id, tool, False, reason)
        return ToolResultSummary(
            call_id=call_id[:128],
            ok=False,
            summary=reason[:1000],
            duration_ms=max(0, int((self.clock() - at) * 1000)),
        )

    def _tool_complete(self, data: Any) -> list[PayloadModel]:
        call_id = str(_get(data, "tool_call_id") or "")
        begun = self.started.pop(call_id, None)
        if begun is None:
            return []  # an intent tool, or a call we never saw start
        tool, at = begun
        ok = bool(_get(data, "success"))
        result = _get(data, "result")
        error = _get(data, "error")
        content = (
            str(_get(result, "content") or "")
            if ok
            else str(_get(error, "message") or error or _get(result, "content") or "")
        )
        refusal = self.refusals.get(call_id)
        if refusal is not None:
            ok, content = False, refusal
        self.finished_tool = (call_id, tool, ok, "" if ok else content)
        summary = " ".join(content.split())
        return [
            ToolResultSummary(
                call_id=call_id[:128],
                ok=ok,
                summary=summary if len(summary) <= 1000 else summary[:997] + "...",
                duration_ms=max(0, int((self.clock() - at) * 1000)),
            )
        ]


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
