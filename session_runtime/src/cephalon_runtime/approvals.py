"""Risk and approval: what happens before every tool call.

:class:`ToolGate` decides each call the engine is about to make, in this order:

1. the turn's tool-call budget (over it: refused, and the turn stops);
2. the MCP server's circuit (open: refused with ``MCP_CIRCUIT_OPEN`` naming server
   and tool);
3. the tool's risk from the policy snapshot: ``safe`` runs; ``elevated`` runs and is
   reported (the ``tool_call`` event carries the level); ``restricted`` publishes an
   ``approval_request`` and waits for the matching ``approval_decision`` on the control
   stream — no decision within the tenant's timeout means deny (``TIMEOUT_APPROVAL``).

:class:`ApprovalBroker` pairs requests and decisions by request id only, so a decision
for another request (or a replayed one) never unblocks the wrong call; every decision
is logged as an audit record and echoed to the events stream.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from cephalon_contracts.events import ApprovalDecision, ApprovalRequest, RiskLevel

from .errors import (
    ApprovalDeniedError,
    ApprovalTimeoutError,
    BudgetExceededError,
    McpError,
    RuntimeFailure,
)

log = structlog.get_logger("cephalon_runtime.approvals")
audit = structlog.get_logger("cephalon_runtime.audit")

_SECRET_KEY = re.compile(r"token|secret|passw|api[-_]?key|auth|credential|cookie", re.I)
_SECRET_VALUE = re.compile(r"(gh[pousr]_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{16,}|Bearer\s+\S+)")


def summarise_arguments(arguments: Any, limit: int = 300) -> str:
    """Arguments as short JSON with secret-looking keys and values redacted."""

    def scrub(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                str(k): "***" if _SECRET_KEY.search(str(k)) else scrub(v) for k, v in value.items()
            }
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, str):
            return _SECRET_VALUE.sub("***", value)
        return value

    try:
        text = json.dumps(scrub(arguments), ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = "<unprintable>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def policy_tool_name(tool: str, arguments: Any) -> str:
    """The name policy rates a call under: the CLI's ``skill`` tool invoking skill ``x``
    is ``skill:x`` (so a tenant can make one skill restricted); anything else as is."""
    if tool == "skill" and isinstance(arguments, dict):
        for key in ("skill", "name", "skill_name"):
            value = arguments.get(key)
            if isinstance(value, str) and value:
                return f"skill:{value}"
    return tool


@dataclass
class ApprovalBroker:
    """Waiting approval requests, keyed by request id."""

    waiting: dict[str, asyncio.Future[ApprovalDecision]] = field(default_factory=dict)

    def open(self) -> tuple[str, asyncio.Future[ApprovalDecision]]:
        request_id = f"apr-{secrets.token_hex(8)}"
        future: asyncio.Future[ApprovalDecision] = asyncio.get_running_loop().create_future()
        self.waiting[request_id] = future
        return request_id, future

    def close(self, request_id: str) -> None:
        self.waiting.pop(request_id, None)

    def decide(self, decision: ApprovalDecision) -> bool:
        """Deliver a decision; False when nobody waits for that request id."""
        future = self.waiting.get(decision.request_id)
        audit.info(
            "approval_decision",
            request_id=decision.request_id,
            approved=decision.approved,
            decided_by=decision.decided_by,
            matched=future is not None,
        )
        if future is None or future.done():
            return False
        future.set_result(decision)
        return True

    def deny_all(self, decided_by: str, reason: str) -> None:
        """Answer every waiting request with a denial (the turn ended or was cancelled)."""
        for request_id, future in list(self.waiting.items()):
            if not future.done():
                future.set_result(
                    ApprovalDecision(
                        request_id=request_id, approved=False, decided_by=decided_by, reason=reason
                    )
                )


@dataclass(frozen=True)
class GateDecision:
    allow: bool
    risk: RiskLevel
    reason: str = ""
    error: RuntimeFailure | None = None
    stop_turn: bool = False
    """The refusal also ends the turn (a budget is used up)."""


Publish = Callable[[ApprovalRequest], Awaitable[None]]


@dataclass
class ToolGate:
    """The per-turn decision point for tool calls (see the module docstring)."""

    risk_of: Callable[[str], RiskLevel]
    broker: ApprovalBroker
    publish: Publish
    timeout_seconds: float
    charge_tool_call: Callable[[], BudgetExceededError | None]
    mcp_gate: Callable[[str], McpError | None]
    decisions: dict[str, GateDecision] = field(default_factory=dict)

    async def decide(self, tool: str, arguments: Any, call_id: str) -> GateDecision:
        cached = self.decisions.get(call_id)
        if cached is not None:
            return cached
        decision = await self._decide(tool, arguments, call_id)
        self.decisions[call_id] = decision
        return decision

    async def _decide(self, tool: str, arguments: Any, call_id: str) -> GateDecision:
        tool = policy_tool_name(tool, arguments)
        risk = self.risk_of(tool)
        over = self.charge_tool_call()
        if over is not None:
            return GateDecision(False, risk, over.message, over, stop_turn=True)
        mcp_error = self.mcp_gate(tool)
        if mcp_error is not None:
            return GateDecision(False, risk, mcp_error.message, mcp_error)
        if risk is not RiskLevel.RESTRICTED:
            return GateDecision(True, risk)
        return await self._approval(tool, arguments, call_id, risk)

    async def _approval(
        self, tool: str, arguments: Any, call_id: str, risk: RiskLevel
    ) -> GateDecision:
        request_id, future = self.broker.open()
        expires = datetime.now(UTC) + timedelta(seconds=self.timeout_seconds)
        summary = summarise_arguments(arguments)
        try:
            await self.publish(
                ApprovalRequest(
                    request_id=request_id,
                    call_id=call_id[:128],
                    tool=tool[:200],
                    risk=risk,
                    arguments_summary=summary,
                    reason=f"{tool} is a restricted tool: a person must approve this call",
                    expires_at=expires,
                )
            )
            audit.info("approval_requested", request_id=request_id, tool=tool, call_id=call_id)
            async with asyncio.timeout(self.timeout_seconds):
                decision = await future
        except TimeoutError:
            error = ApprovalTimeoutError(
                f"no decision on {tool} within {self.timeout_seconds:g} s, so it was denied",
                details={"tool": tool, "request_id": request_id},
            )
            audit.info("approval_timed_out", request_id=request_id, tool=tool)
            return GateDecision(False, risk, error.message, error)
        finally:
            self.broker.close(request_id)
        if decision.approved:
            return GateDecision(True, risk, f"approved by {decision.decided_by}")
        denied = ApprovalDeniedError(
            f"{tool} was denied by {decision.decided_by}"
            + (f": {decision.reason}" if decision.reason else ""),
            details={"tool": tool, "request_id": request_id},
        )
        return GateDecision(False, risk, denied.message, denied)
