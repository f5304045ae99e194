"""Errors of the Discord emulator.

The tree::

    DiscordEmulatorError          misuse of the Python (user-side) API: unknown ids,
    │                             a button that does not exist, no endpoint configured
    ├── RateLimitExceeded         a limit inside a route (channel renames, daily
    │                             command creates): answered 429 with retry_after
    └── ApiError                  a Discord API error: rendered as Discord's JSON error
                                  body with its HTTP status (``{"message", "code",
                                  "errors"?}``); raised by the world and turned into a
                                  response by the REST layer

Discord's documented codes used here live as constants below, so tests and handlers
name them instead of repeating numbers.
"""

from __future__ import annotations

from typing import Any

UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MEMBER = 10007
UNKNOWN_MESSAGE = 10008
UNKNOWN_OVERWRITE = 10009
UNKNOWN_ROLE = 10011
UNKNOWN_USER = 10013
UNKNOWN_WEBHOOK = 10015
UNKNOWN_INTERACTION = 10062
UNKNOWN_COMMAND = 10063
MAX_PINS = 30003
MAX_GUILD_CHANNELS = 30013
MAX_DAILY_COMMAND_CREATES = 30034
UNAUTHORIZED = 40001
ENTITY_TOO_LARGE = 40005
ALREADY_ACKNOWLEDGED = 40060
MISSING_ACCESS = 50001
CANNOT_EDIT_OTHERS_MESSAGE = 50005
EMPTY_MESSAGE = 50006
MISSING_PERMISSIONS = 50013
INVALID_WEBHOOK_TOKEN = 50027
INVALID_FORM_BODY = 50035


class DiscordEmulatorError(Exception):
    """Base of every error raised by :mod:`cephalon_devkit.discord`."""


class RateLimitExceeded(DiscordEmulatorError):
    """A limit Discord applies inside a bucket; the REST layer answers 429."""

    def __init__(
        self,
        retry_after: float,
        message: str = "You are being rate limited.",
        code: int | None = None,
    ) -> None:
        super().__init__(f"{message} (retry after {retry_after:.1f}s)")
        self.retry_after = retry_after
        self.message = message
        self.code = code


FormErrors = dict[str, Any]
"""Discord's nested error tree: ``{"embeds": {"0": {"title": {"_errors": [...]}}}}``."""


class ApiError(DiscordEmulatorError):
    """A Discord API error answer: ``status`` and the JSON body Discord sends."""

    def __init__(
        self, status: int, code: int, message: str, errors: FormErrors | None = None
    ) -> None:
        super().__init__(f"{status} {message} (code {code})")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            out["errors"] = self.errors
        return out


def not_found(code: int, what: str) -> ApiError:
    return ApiError(404, code, f"Unknown {what}")


def forbidden_missing_access() -> ApiError:
    return ApiError(403, MISSING_ACCESS, "Missing Access")


def forbidden_missing_permissions() -> ApiError:
    return ApiError(403, MISSING_PERMISSIONS, "Missing Permissions")


def unauthorized() -> ApiError:
    return ApiError(401, 0, "401: Unauthorized")


def invalid_form(errors: FormErrors) -> ApiError:
    return ApiError(400, INVALID_FORM_BODY, "Invalid Form Body", errors)


def field_error(code: str, message: str) -> dict[str, Any]:
    """One leaf of a form error tree."""
    return {"_errors": [{"code": code, "message": message}]}


def too_long(limit: int) -> dict[str, Any]:
    return field_error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def required() -> dict[str, Any]:
    return field_error("BASE_TYPE_REQUIRED", "This field is required")
