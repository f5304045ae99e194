"""One canonical example of every wire message, with fixed ids and times.

Used by the golden-file tests (serialization must stay stable), by
``docs/contracts.md`` and by the contracts smoke (``python -m cephalon_contracts.smoke``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from .envelope import CONTRACT_VERSION, Envelope, PayloadModel
from .errors import ErrorCode, ErrorEnvelope
from .events import (
    Action,
    ApprovalDecision,
    ApprovalRequest,
    DecisionSummary,
    ErrorEvent,
    Final,
    FinalStatus,
    Plan,
    PlanStep,
    PlanStepStatus,
    ResponseDelta,
    RiskLevel,
    ToolCall,
    ToolResultSummary,
    Usage,
)
from .social import (
    AttachmentMeta,
    AttachmentRef,
    Author,
    Cancel,
    PostMessage,
    SessionOverrides,
    SocialMessageCreated,
    TurnMode,
    TurnRequest,
)
from .urns import to_urn

PROVIDER = "discord"
TENANT = "duck"
SESSION_ID = "s-1200000000000000001"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TURN_ID = "0af7651916cd43dd8448eb211c80319c"
AT = datetime(2026, 11, 22, 9, 30, 0, tzinfo=UTC)


def _urn(kind: str, id: str) -> str:  # noqa: A002 - mirrors to_urn
    return to_urn(PROVIDER, TENANT, kind, id)


def payload_examples() -> dict[str, PayloadModel]:
    """Every payload type once, keyed by its ``type``."""
    owner = _urn("user", "1300000000000000001")
    payloads: list[PayloadModel] = [
        SocialMessageCreated(
            message=_urn("message", "1500000000000000001"),
            author=Author(urn=owner, display_name="ada"),
            channel=_urn("channel", "1400000000000000001"),
            guild=_urn("guild", "1100000000000000001"),
            content="Please add input validation to parse_config() and a test.",
            attachments=[
                AttachmentMeta(
                    urn=_urn("attachment", "1600000000000000001"),
                    filename="traceback.txt",
                    content_type="text/plain",
                    size_bytes=2048,
                )
            ],
            created_at=AT,
        ),
        PostMessage(
            channel=_urn("channel", "1400000000000000001"),
            content="Session ready. Ask away!",
        ),
        TurnRequest(
            text="Please add input validation to parse_config() and a test.",
            author=owner,
            attachments=[
                AttachmentRef(
                    blob_key=f"promethean.p.discord.t.duck.session.{SESSION_ID}.blob."
                    "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
                    sha256="5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef",
                    filename="traceback.txt",
                    content_type="text/plain",
                    size_bytes=2048,
                )
            ],
            mode=TurnMode.QUEUE,
            overrides=SessionOverrides(model="gpt-4.1"),
        ),
        Cancel(requested_by=owner, reason="wrong file"),
        Plan(
            steps=[
                PlanStep(title="Read parse_config()", status=PlanStepStatus.DONE),
                PlanStep(title="Add validation", status=PlanStepStatus.IN_PROGRESS),
                PlanStep(title="Write a test"),
            ]
        ),
        Action(intent="Editing src/config.py"),
        ToolCall(
            call_id="call-1",
            tool="git-commit",
            server="git",
            risk=RiskLevel.ELEVATED,
            arguments_summary='message="Validate config input"',
        ),
        ToolResultSummary(call_id="call-1", ok=True, summary="1 file changed", duration_ms=42),
        DecisionSummary(summary="Raising ValueError keeps the existing callers' contract."),
        ResponseDelta(seq=0, text="I added validation to "),
        ApprovalRequest(
            request_id="req-1",
            call_id="call-2",
            tool="git-push",
            arguments_summary="branch=cephalon/s-1200000000000000001",
            reason="Pushing leaves the sandbox.",
            expires_at=datetime(2026, 11, 22, 9, 35, 0, tzinfo=UTC),
        ),
        ApprovalDecision(request_id="req-1", approved=True, decided_by=owner),
        Final(
            status=FinalStatus.COMPLETED,
            text="I added validation to parse_config() and a test for it.",
            usage=Usage(input_tokens=1200, output_tokens=240),
            duration_ms=5400,
        ),
        ErrorEvent(
            error=ErrorEnvelope(
                error_code=ErrorCode.MCP_SERVER_UNAVAILABLE,
                message="The git tool server is not answering; try again in a minute.",
                trace_id=TRACE_ID,
                retryable=True,
                details={"server": "git"},
            )
        ),
    ]
    return {p.type: p for p in payloads}


def envelope_examples() -> dict[str, Envelope]:
    """Every payload example wrapped in an envelope with fixed ids."""
    out: dict[str, Envelope] = {}
    for i, (kind, payload) in enumerate(payload_examples().items()):
        session_scoped = not kind.startswith("social.")
        out[kind] = Envelope(
            id=f"{i + 1:032x}",
            contract_version=CONTRACT_VERSION,
            provider=PROVIDER,
            tenant=TENANT,
            type=payload.type,
            trace_id=TRACE_ID,
            session_id=SESSION_ID if session_scoped else None,
            turn_id=TURN_ID if session_scoped and kind != "session.cancel" else None,
            idempotency_key=f"{i + 1:032x}",
            occurred_at=AT,
            payload=payload,
        )
    return out
