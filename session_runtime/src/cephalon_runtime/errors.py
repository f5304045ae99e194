"""The runtime's exceptions. Each one knows its :class:`ErrorCode` and becomes the
``ErrorEnvelope`` of an ``error`` stream event with :meth:`RuntimeFailure.to_envelope`::

    RuntimeFailure                      (error_code, message, details, retryable)
    ├── ConfigurationError              INTERNAL_ERROR: a setting or credential file is unusable
    ├── ModelNotAllowedError            PROVIDER_MODEL_NOT_ALLOWED: not in the tenant allowlist
    ├── EngineError                     PROVIDER_UNAVAILABLE: the agent engine failed
    │   └── ModelError                  the model upstream failed (code from the SDK error)
    ├── BudgetExceededError             PROVIDER_BUDGET_EXCEEDED (tokens, tool calls)
    │   └── TurnTimeoutError            TIMEOUT_TURN: the turn's wall-clock budget
    ├── McpError                        MCP_*: always names the server (and tool, if any)
    │   ├── McpServerUnavailableError   MCP_SERVER_UNAVAILABLE: unreachable / probe failed
    │   ├── McpCircuitOpenError         MCP_CIRCUIT_OPEN: calls paused after failures
    │   ├── McpToolNotFoundError        MCP_TOOL_NOT_FOUND
    │   ├── McpToolFailedError          MCP_TOOL_FAILED
    │   └── McpToolTimeoutError         TIMEOUT_TOOL: one call ran past its timeout
    ├── ApprovalError
    │   ├── ApprovalDeniedError         POLICY_APPROVAL_DENIED: a person said no
    │   └── ApprovalTimeoutError        TIMEOUT_APPROVAL: nobody decided in time
    └── AttachmentError                 FILES_*: names the file
        ├── AttachmentTooLargeError     FILES_TOO_LARGE
        ├── AttachmentTypeError         FILES_TYPE_NOT_ALLOWED
        └── AttachmentMissingError      FILES_NOT_FOUND (blob gone or hash mismatch)

Third-party errors (redis, mcp, the Copilot SDK) are wrapped with ``raise … from e``;
policy errors come from :mod:`cephalon_policy` and already carry their own codes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cephalon_contracts.errors import ErrorCode, ErrorEnvelope

Detail = str | int | float | bool | None


class RuntimeFailure(Exception):
    """Base of every runtime error; safe to show to the person in the chat."""

    error_code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    @property
    def code(self) -> ErrorCode:
        return self.error_code

    def to_envelope(self, trace_id: str) -> ErrorEnvelope:
        safe: dict[str, Detail] = {
            k: v for k, v in self.details.items() if isinstance(v, str | int | float | bool)
        }
        return ErrorEnvelope(
            error_code=self.code,
            message=self.message[:2000],
            trace_id=trace_id,
            retryable=self.code.retryable_by_default,
            details=safe,
        )


class ConfigurationError(RuntimeFailure):
    """A setting or credential file cannot be used; the runtime cannot start."""


class ModelNotAllowedError(RuntimeFailure):
    error_code = ErrorCode.PROVIDER_MODEL_NOT_ALLOWED

    def __init__(self, model: str, allowed: list[str]) -> None:
        super().__init__(
            f"model {model!r} is not allowed for this tenant (allowed: {', '.join(allowed)})",
            details={"model": model, "allowed": ",".join(allowed)},
        )


class EngineError(RuntimeFailure):
    error_code = ErrorCode.PROVIDER_UNAVAILABLE


class ModelError(EngineError):
    """The model upstream answered with an error the engine gave up on."""

    def __init__(self, message: str, *, code: ErrorCode, details: dict[str, Any]) -> None:
        super().__init__(message, details=details)
        self._code = code

    @property
    def code(self) -> ErrorCode:
        return self._code


class BudgetExceededError(RuntimeFailure):
    error_code = ErrorCode.PROVIDER_BUDGET_EXCEEDED

    def __init__(self, budget: str, limit: float, used: float) -> None:
        super().__init__(
            f"the {budget.replace('_', ' ')} budget of {limit:g} is used up ({used:g});"
            " the turn was stopped",
            details={"budget": budget, "limit": limit, "used": used},
        )
        self.budget = budget


class TurnTimeoutError(BudgetExceededError):
    error_code = ErrorCode.TIMEOUT_TURN


class McpError(RuntimeFailure):
    """An MCP failure; ``server`` and ``tool`` are always in the message and details."""

    error_code = ErrorCode.MCP_SERVER_UNAVAILABLE
    problem: ClassVar[str] = "is unavailable"

    def __init__(self, server: str, tool: str | None = None, reason: str = "") -> None:
        subject = f"MCP server {server!r}" + (f" (tool {tool!r})" if tool else "")
        message = f"{subject} {self.problem}" + (f": {reason}" if reason else "")
        super().__init__(message, details={"server": server, "tool": tool, "reason": reason})
        self.server = server
        self.tool = tool


class McpServerUnavailableError(McpError):
    pass


class McpCircuitOpenError(McpError):
    error_code = ErrorCode.MCP_CIRCUIT_OPEN
    problem = "is paused after repeated failures (circuit open)"


class McpToolNotFoundError(McpError):
    error_code = ErrorCode.MCP_TOOL_NOT_FOUND
    problem = "does not offer this tool"


class McpToolFailedError(McpError):
    error_code = ErrorCode.MCP_TOOL_FAILED
    problem = "returned an error"


class McpToolTimeoutError(McpError):
    error_code = ErrorCode.TIMEOUT_TOOL
    problem = "did not answer in time"


class ApprovalError(RuntimeFailure):
    pass


class ApprovalDeniedError(ApprovalError):
    error_code = ErrorCode.POLICY_APPROVAL_DENIED


class ApprovalTimeoutError(ApprovalError):
    error_code = ErrorCode.TIMEOUT_APPROVAL


class AttachmentError(RuntimeFailure):
    error_code = ErrorCode.FILES_NOT_FOUND

    def __init__(self, filename: str, problem: str, **details: Any) -> None:
        super().__init__(
            f"attachment {filename!r} {problem}", details={"file": filename, **details}
        )


class AttachmentTooLargeError(AttachmentError):
    error_code = ErrorCode.FILES_TOO_LARGE


class AttachmentTypeError(AttachmentError):
    error_code = ErrorCode.FILES_TYPE_NOT_ALLOWED


class AttachmentMissingError(AttachmentError):
    error_code = ErrorCode.FILES_NOT_FOUND
