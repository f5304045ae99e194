"""Errors of the model gateway and their OpenAI-style answers.

Every error a client can see is a :class:`ModelGatewayError`: it knows its HTTP
status, the OpenAI error ``type`` clients (the Copilot CLI's OpenAI client) act on, our
:class:`~cephalon_contracts.errors.ErrorCode` (sent as the OpenAI ``code`` and in a
``cephalon`` envelope next to ``error``) and, for transient ones, a ``Retry-After``::

    ModelGatewayError                     (status, error_code, openai_type, retry_after)
    ├── ConfigError                       settings or credential files unusable (start-up)
    ├── ClientError                       the request itself is refused
    │   ├── AuthenticationError           401: no, unknown or revoked session token
    │   ├── InvalidRequestError           400/413: not a chat-completions body
    │   ├── ModelNotAllowedError          400: model outside the tenant's allowlist
    │   ├── BudgetExceededError           402 insufficient_quota: token budget used up
    │   └── ConcurrencyLimitError         429 + Retry-After: tenant's in-flight limit
    └── UpstreamError                     the provider failed (wraps httpx errors)
        ├── UpstreamUnavailableError      502: network failure or 5xx after retries
        ├── UpstreamTimeoutError          504: no answer within the read timeout
        ├── UpstreamRateLimitedError      429: rate limited, Retry-After passed on
        ├── CircuitOpenError              503: too many failures, calls paused
        ├── UpstreamCredentialError       502: the provider refused the tenant's key
        ├── UpstreamRejectedError         4xx: the provider refused the request
        └── BadUpstreamResponseError      502: an answer we cannot understand

Messages are safe to show: they never contain a credential (the proxy redacts provider
messages before wrapping them, and the app redacts every error body once more).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from cephalon_contracts.errors import ErrorCode, ErrorEnvelope


class ModelGatewayError(Exception):
    status: ClassVar[int] = 500
    error_code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_ERROR
    openai_type: ClassVar[str] = "server_error"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    @property
    def http_status(self) -> int:
        return self.status

    @property
    def retryable(self) -> bool:
        return self.error_code.retryable_by_default

    def headers(self) -> dict[str, str]:
        headers = {"x-cephalon-error-code": self.error_code.value}
        if self.retry_after is not None:
            headers["retry-after"] = str(max(1, math.ceil(self.retry_after)))
        return headers

    def body(self, trace_id: str) -> dict[str, Any]:
        """OpenAI's error object, with our code, plus our envelope under ``cephalon``."""
        envelope = ErrorEnvelope(
            error_code=self.error_code,
            message=self.message[:2000] or self.error_code.value,
            trace_id=trace_id,
            retryable=self.retryable,
        )
        return {
            "error": {
                "message": f"{self.message} ({self.error_code.value})",
                "type": self.openai_type,
                "param": None,
                "code": self.error_code.value,
            },
            "cephalon": envelope.model_dump(mode="json"),
        }


class ConfigError(ModelGatewayError):
    """The gateway cannot start with these settings."""


class ClientError(ModelGatewayError):
    status = 400
    openai_type = "invalid_request_error"


class AuthenticationError(ClientError):
    status = 401
    error_code = ErrorCode.AUTH_UNAUTHENTICATED


class InvalidRequestError(ClientError):
    error_code = ErrorCode.INTERNAL_CONTRACT_VIOLATION

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self._status = status

    @property
    def http_status(self) -> int:
        return self._status


class ModelNotAllowedError(ClientError):
    error_code = ErrorCode.PROVIDER_MODEL_NOT_ALLOWED


class BudgetExceededError(ClientError):
    """402, not OpenAI's 429: the Copilot CLI retries a 429 for ~55 s before giving up,
    but shows a 402 at once with our message (measured with CLI 1.0.102)."""

    status = 402
    error_code = ErrorCode.PROVIDER_BUDGET_EXCEEDED
    openai_type = "insufficient_quota"


class ConcurrencyLimitError(ClientError):
    status = 429
    error_code = ErrorCode.RATE_LIMIT_QUOTA
    openai_type = "requests"


class UpstreamError(ModelGatewayError):
    status = 502
    error_code = ErrorCode.PROVIDER_UNAVAILABLE


class UpstreamUnavailableError(UpstreamError):
    pass


class UpstreamTimeoutError(UpstreamError):
    status = 504
    error_code = ErrorCode.TIMEOUT_UPSTREAM


class UpstreamRateLimitedError(UpstreamError):
    status = 429
    error_code = ErrorCode.RATE_LIMIT_MODEL
    openai_type = "requests"


class CircuitOpenError(UpstreamError):
    status = 503


class UpstreamCredentialError(UpstreamError):
    @property
    def retryable(self) -> bool:
        return False


class UpstreamRejectedError(UpstreamError):
    error_code = ErrorCode.PROVIDER_BAD_RESPONSE
    openai_type = "invalid_request_error"

    def __init__(self, message: str, *, status: int, openai_type: str | None = None) -> None:
        super().__init__(message)
        self._status = status
        self._type = openai_type or "invalid_request_error"

    @property
    def http_status(self) -> int:
        return self._status

    def body(self, trace_id: str) -> dict[str, Any]:
        body = super().body(trace_id)
        body["error"]["type"] = self._type
        return body


class BadUpstreamResponseError(UpstreamError):
    error_code = ErrorCode.PROVIDER_BAD_RESPONSE
