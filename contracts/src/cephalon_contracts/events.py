"""Stream events: what a session runtime tells the world while it works on a turn.

``StreamEvent`` is a discriminated union on ``type``. Raw chain-of-thought never
appears here: ``decision_summary`` is a short, deliberate summary the agent writes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from .base import WireModel
from .errors import ErrorEnvelope
from .urns import Urn


class RiskLevel(StrEnum):
    """How dangerous a tool is; ``restricted`` tools wait for an approval."""

    SAFE = "safe"
    ELEVATED = "elevated"
    RESTRICTED = "restricted"


class PlanStepStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class PlanStep(WireModel):
    title: str = Field(min_length=1, max_length=300)
    status: PlanStepStatus = PlanStepStatus.PENDING


class Usage(WireModel):
    """Token counts, as reported by the model upstream."""

    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class Plan(WireModel):
    """The agent's current plan (replaces any earlier plan of the turn)."""

    type: Literal["plan"] = "plan"
    steps: list[PlanStep] = Field(max_length=50)


class Action(WireModel):
    """What the agent says it is about to do, in one line."""

    type: Literal["action"] = "action"
    intent: str = Field(min_length=1, max_length=500)


class ToolCall(WireModel):
    """A tool call started. ``arguments_summary`` is redacted and short."""

    type: Literal["tool_call"] = "tool_call"
    call_id: str = Field(min_length=1, max_length=128)
    tool: str = Field(min_length=1, max_length=200)
    server: str | None = Field(default=None, max_length=100)
    risk: RiskLevel = RiskLevel.SAFE
    arguments_summary: str = Field(default="", max_length=1000)


class ToolResultSummary(WireModel):
    """A tool call finished."""

    type: Literal["tool_result_summary"] = "tool_result_summary"
    call_id: str = Field(min_length=1, max_length=128)
    ok: bool
    summary: str = Field(default="", max_length=1000)
    duration_ms: int = Field(ge=0)


class DecisionSummary(WireModel):
    """A short summary of a decision the agent took (never raw reasoning)."""

    type: Literal["decision_summary"] = "decision_summary"
    summary: str = Field(min_length=1, max_length=1000)


class ResponseDelta(WireModel):
    """A piece of the answer; ``seq`` orders the deltas of one turn from 0."""

    type: Literal["response_delta"] = "response_delta"
    seq: int = Field(ge=0)
    text: str = Field(max_length=16_000)


class ApprovalRequest(WireModel):
    """A ``restricted`` tool call waits for a person's decision until ``expires_at``."""

    type: Literal["approval_request"] = "approval_request"
    request_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    call_id: str = Field(min_length=1, max_length=128)
    tool: str = Field(min_length=1, max_length=200)
    risk: RiskLevel = RiskLevel.RESTRICTED
    arguments_summary: str = Field(default="", max_length=1000)
    reason: str = Field(min_length=1, max_length=500)
    expires_at: AwareDatetime


class ApprovalDecision(WireModel):
    """The answer to an :class:`ApprovalRequest`, written to the control stream."""

    type: Literal["approval_decision"] = "approval_decision"
    request_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    approved: bool
    decided_by: Urn
    reason: str = Field(default="", max_length=500)


class FinalStatus(StrEnum):
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class Final(WireModel):
    """The end of a turn: the whole answer text and the turn's usage."""

    type: Literal["final"] = "final"
    status: FinalStatus
    text: str = Field(default="", max_length=200_000)
    usage: Usage = Field(default_factory=Usage)
    duration_ms: int = Field(default=0, ge=0)


class ErrorEvent(WireModel):
    """A turn or session failed; the error is safe to show to the user."""

    type: Literal["error"] = "error"
    error: ErrorEnvelope


StreamEvent = Annotated[
    Plan
    | Action
    | ToolCall
    | ToolResultSummary
    | DecisionSummary
    | ResponseDelta
    | ApprovalRequest
    | ApprovalDecision
    | Final
    | ErrorEvent,
    Field(discriminator="type"),
]

STREAM_EVENT_TYPES: tuple[str, ...] = (
    "plan",
    "action",
    "tool_call",
    "tool_result_summary",
    "decision_summary",
    "response_delta",
    "approval_request",
    "approval_decision",
    "final",
    "error",
)

__all__ = [
    "Action",
    "ApprovalDecision",
    "ApprovalRequest",
    "DecisionSummary",
    "ErrorEvent",
    "Final",
    "FinalStatus",
    "Plan",
    "PlanStep",
    "PlanStepStatus",
    "ResponseDelta",
    "RiskLevel",
    "STREAM_EVENT_TYPES",
    "StreamEvent",
    "ToolCall",
    "ToolResultSummary",
    "Usage",
]
