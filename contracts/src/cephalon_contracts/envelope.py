"""The envelope every message travels in, and how to make and read one.

``provider`` and ``tenant`` are required fields without defaults, so neither mypy (with
the pydantic plugin) nor pydantic at run time lets anyone build an envelope that is not
addressed to a tenant. ``type`` always equals ``payload.type``.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, Field, ValidationError, model_validator

from .base import WireModel
from .errors import ContractValidationError, UnsupportedContractVersionError
from .events import (
    Action,
    ApprovalDecision,
    ApprovalRequest,
    DecisionSummary,
    ErrorEvent,
    Final,
    Plan,
    ResponseDelta,
    ToolCall,
    ToolResultSummary,
)
from .names import ProviderName, SessionId, TenantName, TraceId
from .social import Cancel, PostMessage, SocialMessageCreated, TurnRequest

#: ``<major>.<minor>``: readers accept any minor of their major (new optional fields).
CONTRACT_VERSION = "1.0"
CONTRACT_MAJOR = 1

#: Every message type that travels in an envelope.
PayloadModel = (
    SocialMessageCreated
    | PostMessage
    | TurnRequest
    | Cancel
    | Plan
    | Action
    | ToolCall
    | ToolResultSummary
    | DecisionSummary
    | ResponseDelta
    | ApprovalRequest
    | ApprovalDecision
    | Final
    | ErrorEvent
)
Payload = Annotated[PayloadModel, Field(discriminator="type")]


class Envelope(WireModel):
    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    contract_version: str = Field(pattern=r"^[0-9]+\.[0-9]+$")
    provider: ProviderName
    tenant: TenantName
    type: str
    trace_id: TraceId
    session_id: SessionId | None = None
    turn_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    idempotency_key: str = Field(min_length=1, max_length=200)
    occurred_at: AwareDatetime
    payload: Payload

    @model_validator(mode="after")
    def _type_matches_payload(self) -> Envelope:
        if self.type != self.payload.type:
            raise ValueError(
                f"type {self.type!r} does not match the payload's type {self.payload.type!r}"
            )
        major = int(self.contract_version.split(".", 1)[0])
        if major != CONTRACT_MAJOR:
            raise ValueError(
                f"contract_version {self.contract_version} is not readable by major"
                f" {CONTRACT_MAJOR}"
            )
        return self


def new_id() -> str:
    """A fresh 128-bit id as 32 hex digits (envelope ids, turn ids)."""
    return uuid.uuid4().hex


def new_trace_id() -> str:
    """A fresh W3C trace id."""
    return secrets.token_hex(16)


def envelope(
    payload: PayloadModel,
    *,
    provider: str,
    tenant: str,
    trace_id: str | None = None,
    session_id: str | None = None,
    turn_id: str | None = None,
    idempotency_key: str | None = None,
    occurred_at: datetime | None = None,
) -> Envelope:
    """Wrap a payload for publishing; ``provider`` and ``tenant`` are keyword-only and
    required. The id doubles as the idempotency key unless one is given.

    Raises :class:`ContractValidationError` when a field is invalid.
    """
    envelope_id = new_id()
    try:
        return Envelope(
            id=envelope_id,
            contract_version=CONTRACT_VERSION,
            provider=provider,
            tenant=tenant,
            type=payload.type,
            trace_id=trace_id or new_trace_id(),
            session_id=session_id,
            turn_id=turn_id,
            idempotency_key=idempotency_key or envelope_id,
            occurred_at=occurred_at or datetime.now(UTC),
            payload=payload,
        )
    except ValidationError as e:
        raise ContractValidationError.from_pydantic("Envelope", e) from e


def decode_envelope(raw: str | bytes) -> Envelope:
    """Read an envelope from its JSON form.

    Raises :class:`UnsupportedContractVersionError` for another contract major and
    :class:`ContractValidationError` (naming each bad field) for anything else invalid.
    """
    try:
        return Envelope.model_validate_json(raw)
    except ValidationError as e:
        version = _peek_version(raw)
        if version is not None and not version.startswith(f"{CONTRACT_MAJOR}."):
            raise UnsupportedContractVersionError(
                f"message written with contract {version}; this reader speaks {CONTRACT_VERSION}",
                details={"contract_version": version},
            ) from e
        raise ContractValidationError.from_pydantic("Envelope", e) from e


def encode_envelope(message: Envelope) -> str:
    """The stable JSON form of an envelope (fields in declaration order, no nulls lost)."""
    return message.model_dump_json()


def _peek_version(raw: str | bytes) -> str | None:
    try:
        data: Any = json.loads(raw)
    except ValueError:
        return None
    version = data.get("contract_version") if isinstance(data, dict) else None
    return version if isinstance(version, str) else None
