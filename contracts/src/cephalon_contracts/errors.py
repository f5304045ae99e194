"""The error taxonomy and the exceptions of the contracts package.

Every failure that crosses a component boundary is described by an
:class:`ErrorCode` and travels as an :class:`ErrorEnvelope`. Exceptions raised by this
package all derive from :class:`ContractError`::

    ContractError                      (error_code, message, details)
    ├── InvalidTopicError              a topic string or one of its segments is malformed
    ├── InvalidUrnError                a URN is malformed or not in canonical form
    ├── ContractValidationError        a message does not match its model (wraps pydantic)
    └── UnsupportedContractVersionError  a message from an incompatible contract major
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: The error classes of ARCHITECTURE §6, in the order they are documented.
ERROR_CATEGORIES = (
    "AUTH",
    "RATE_LIMIT",
    "TIMEOUT",
    "PROVIDER",
    "MCP",
    "POLICY",
    "FILES",
    "INTERNAL",
)


class ErrorCode(StrEnum):
    """Stable, machine-readable error codes. The prefix is the error class."""

    description: str

    def __new__(cls, value: str, description: str = "") -> ErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member

    AUTH_INVALID_SIGNATURE = (
        "AUTH_INVALID_SIGNATURE",
        "A request's signature did not verify against the tenant's public key.",
    )
    AUTH_UNAUTHENTICATED = (
        "AUTH_UNAUTHENTICATED",
        "A request carried no credential or one that is unknown, expired or revoked.",
    )
    AUTH_FORBIDDEN = (
        "AUTH_FORBIDDEN",
        "The caller is known but not allowed to do this (not the owner, role missing).",
    )
    RATE_LIMIT_PROVIDER = (
        "RATE_LIMIT_PROVIDER",
        "The chat provider (e.g. Discord) rate-limited us; the call is retried later.",
    )
    RATE_LIMIT_MODEL = (
        "RATE_LIMIT_MODEL",
        "The model upstream rate-limited the request.",
    )
    RATE_LIMIT_QUOTA = (
        "RATE_LIMIT_QUOTA",
        "A tenant quota (concurrent sessions, sessions per user) is exhausted.",
    )
    TIMEOUT_TURN = ("TIMEOUT_TURN", "A turn ran longer than its wall-clock budget.")
    TIMEOUT_TOOL = ("TIMEOUT_TOOL", "A tool call ran longer than its timeout.")
    TIMEOUT_APPROVAL = (
        "TIMEOUT_APPROVAL",
        "No approval decision arrived in time, so the tool call was denied.",
    )
    TIMEOUT_UPSTREAM = ("TIMEOUT_UPSTREAM", "An upstream service did not answer in time.")
    PROVIDER_UNAVAILABLE = (
        "PROVIDER_UNAVAILABLE",
        "The model provider or agent engine is unreachable or failing.",
    )
    PROVIDER_MODEL_NOT_ALLOWED = (
        "PROVIDER_MODEL_NOT_ALLOWED",
        "The requested model is not in the tenant's allowlist.",
    )
    PROVIDER_BUDGET_EXCEEDED = (
        "PROVIDER_BUDGET_EXCEEDED",
        "A token or tool-call budget of the turn, session or tenant is used up.",
    )
    PROVIDER_BAD_RESPONSE = (
        "PROVIDER_BAD_RESPONSE",
        "The model provider answered with something we could not understand.",
    )
    MCP_SERVER_UNAVAILABLE = (
        "MCP_SERVER_UNAVAILABLE",
        "An MCP server could not be reached or failed its health probe.",
    )
    MCP_CIRCUIT_OPEN = (
        "MCP_CIRCUIT_OPEN",
        "Calls to an MCP server are paused after repeated failures.",
    )
    MCP_TOOL_NOT_FOUND = ("MCP_TOOL_NOT_FOUND", "The MCP server does not offer the named tool.")
    MCP_TOOL_FAILED = ("MCP_TOOL_FAILED", "An MCP tool call returned an error.")
    POLICY_INVALID_FILE = (
        "POLICY_INVALID_FILE",
        "A policy file (RULES.md, AGENTS.md, SKILL.md, .mcp.json) is malformed.",
    )
    POLICY_FILE_TOO_LARGE = (
        "POLICY_FILE_TOO_LARGE",
        "A policy file is larger than the size the platform accepts.",
    )
    POLICY_DENIED = ("POLICY_DENIED", "Policy forbids the requested action.")
    POLICY_APPROVAL_DENIED = (
        "POLICY_APPROVAL_DENIED",
        "A person with the right to decide denied a restricted tool call.",
    )
    FILES_TOO_LARGE = ("FILES_TOO_LARGE", "An attachment is larger than the tenant allows.")
    FILES_TYPE_NOT_ALLOWED = (
        "FILES_TYPE_NOT_ALLOWED",
        "An attachment's type is not in the tenant's allowlist.",
    )
    FILES_NOT_FOUND = ("FILES_NOT_FOUND", "A referenced attachment or blob no longer exists.")
    INTERNAL_ERROR = ("INTERNAL_ERROR", "An unexpected failure inside Cephalon.")
    INTERNAL_CONTRACT_VIOLATION = (
        "INTERNAL_CONTRACT_VIOLATION",
        "A message, topic or URN does not match its wire contract.",
    )
    INTERNAL_UNSUPPORTED_VERSION = (
        "INTERNAL_UNSUPPORTED_VERSION",
        "A message was written with a contract major version this reader does not know.",
    )

    @property
    def category(self) -> str:
        """The class of the error: its prefix from :data:`ERROR_CATEGORIES`."""
        return next(c for c in ERROR_CATEGORIES if self.value.startswith(f"{c}_"))

    @property
    def retryable_by_default(self) -> bool:
        """Transient classes (rate limits, timeouts, unavailable upstreams) may be retried."""
        return self.category in {"RATE_LIMIT", "TIMEOUT"} or self in {
            ErrorCode.PROVIDER_UNAVAILABLE,
            ErrorCode.MCP_SERVER_UNAVAILABLE,
        }


ERROR_CATEGORIES = (
    "AUTH",
    "RATE_LIMIT",
    "TIMEOUT",
    "PROVIDER",
    "MCP",
    "POLICY",
    "FILES",
    "INTERNAL",
)


class ErrorEnvelope(BaseModel):
    """The safe, user-presentable description of a failure.

    ``message`` is written for the person in the chat; ``details`` must already be
    redacted (no credentials, no raw prompts) when the envelope is built.
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    error_code: ErrorCode
    message: str = Field(min_length=1, max_length=2000)
    trace_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    retryable: bool
    details: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class ContractError(ValueError):
    """Base of every error raised by :mod:`cephalon_contracts`."""

    error_code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_CONTRACT_VIOLATION

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def to_envelope(self, trace_id: str) -> ErrorEnvelope:
        """Describe this error on the wire."""
        safe: dict[str, str | int | float | bool | None] = {
            k: v for k, v in self.details.items() if isinstance(v, str | int | float | bool)
        }
        return ErrorEnvelope(
            error_code=self.error_code,
            message=self.message,
            trace_id=trace_id,
            retryable=self.error_code.retryable_by_default,
            details=safe,
        )


class InvalidTopicError(ContractError):
    """A topic, or a segment given to build one, is malformed."""


class InvalidUrnError(ContractError):
    """A URN is malformed, uses another namespace, or is not in canonical form."""


class ContractValidationError(ContractError):
    """A message failed validation against its model; ``errors`` name each field."""

    def __init__(self, model: str, errors: list[dict[str, str]]) -> None:
        fields = "; ".join(f"{e['field']}: {e['problem']}" for e in errors)
        super().__init__(f"invalid {model}: {fields}", details={"model": model, "fields": fields})
        self.errors = errors

    @classmethod
    def from_pydantic(cls, model: str, exc: ValidationError) -> ContractValidationError:
        """Wrap a pydantic error, keeping the field path and message of each problem."""
        errors = [
            {"field": ".".join(str(p) for p in err["loc"]) or "<root>", "problem": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        return cls(model, errors)


class UnsupportedContractVersionError(ContractError):
    """A message was written by an incompatible (newer major) contract version."""

    error_code = ErrorCode.INTERNAL_UNSUPPORTED_VERSION
