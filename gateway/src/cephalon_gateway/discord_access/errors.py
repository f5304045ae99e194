"""Exceptions of the Discord gateway.

Every error raised here derives from :class:`GatewayError` and carries the
:class:`~cephalon_contracts.ErrorCode` it maps to and a message safe to show in Discord::

    GatewayError                        (error_code, message)
    ├── ConfigError                     a setting or credential file is missing or invalid
    ├── SignatureError                  an interaction's Ed25519 signature did not verify
    ├── ForbiddenError                  the user may not do this (not the owner, not allowed)
    ├── QuotaError                      a tenant quota or Discord's channel cap is reached
    ├── AttachmentError                 an attachment is refused
    │   ├── AttachmentTooLarge          larger than the tenant's max_bytes
    │   └── AttachmentTypeNotAllowed    MIME type outside the tenant's allowlist
    ├── SessionNotFound                 no session belongs to the channel
    ├── ExpiredError                    an approval expired or was already decided
    ├── KubeError                       the Kubernetes API answered with an error
    │   ├── NotFound                    404
    │   ├── AlreadyExists               409 AlreadyExists
    │   └── Conflict                    409 (resourceVersion conflict)
    └── DiscordError                    Discord's REST API failed (wraps discord.HTTPException)
        ├── DiscordTransient            429/5xx/network: retry later
        └── DiscordRejected             4xx: retrying the same call will not help
"""

from __future__ import annotations

from typing import ClassVar

from cephalon_contracts import ErrorCode


class GatewayError(Exception):
    """Base of every gateway error; ``message`` is safe to show to a Discord user."""

    error_code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(GatewayError):
    """A setting or a credential file is missing or invalid."""


class SignatureError(GatewayError):
    error_code = ErrorCode.AUTH_INVALID_SIGNATURE


class ForbiddenError(GatewayError):
    error_code = ErrorCode.AUTH_FORBIDDEN


class QuotaError(GatewayError):
    error_code = ErrorCode.RATE_LIMIT_QUOTA


class AttachmentError(GatewayError):
    error_code = ErrorCode.FILES_NOT_FOUND


class AttachmentTooLarge(AttachmentError):
    error_code = ErrorCode.FILES_TOO_LARGE


class AttachmentTypeNotAllowed(AttachmentError):
    error_code = ErrorCode.FILES_TYPE_NOT_ALLOWED


class SessionNotFound(GatewayError):
    """No session belongs to this channel (or it is already gone)."""


class ExpiredError(GatewayError):
    """The thing clicked is no longer actionable (expired or already decided)."""


class KubeError(GatewayError):
    """The Kubernetes API answered with an error status (0 for network failures)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"Kubernetes API {status} {reason}: {message}")
        self.status = status
        self.reason = reason


class NotFound(KubeError):
    pass


class AlreadyExists(KubeError):
    pass


class Conflict(KubeError):
    pass


class DiscordError(GatewayError):
    """A Discord REST call failed; ``status`` and ``code`` are Discord's (0 if none)."""

    error_code = ErrorCode.PROVIDER_UNAVAILABLE

    def __init__(self, message: str, *, status: int = 0, code: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class DiscordTransient(DiscordError):
    """Rate limited, a server error or a network failure: try again later."""

    error_code = ErrorCode.RATE_LIMIT_PROVIDER


class DiscordRejected(DiscordError):
    """Discord refused the call (400/401/403/404): the same call will fail again."""
