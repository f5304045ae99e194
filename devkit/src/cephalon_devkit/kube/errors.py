"""Errors of the Kubernetes API emulator, each one a real ``Status`` body.

Clients (kubectl, kopf, kubernetes-asyncio) branch on ``code`` and ``reason``, so every
failure the emulator reports is an :class:`ApiError` that renders exactly the
``metav1.Status`` the real API server would send::

    ApiError                      any Status failure (code, reason, message, details)
    ├── NotFound         404      "<resource>.<group> \\"name\\" not found"
    ├── AlreadyExists    409      "<resource>.<group> \\"name\\" already exists"
    ├── Conflict         409      stale resourceVersion / failed precondition
    ├── Invalid          422      field errors, with ``details.causes``
    ├── BadRequest       400      undecodable bodies, strict decoding errors
    ├── Forbidden        403      e.g. content in a terminating namespace
    ├── MethodNotAllowed 405
    ├── UnsupportedMediaType 415  unknown patch content type
    └── Gone             410      watch/list from a compacted resourceVersion
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cephalon_contracts.crds import FieldError

from .types import StatusBody, StatusCause, StatusDetails


class ApiError(Exception):
    """A request failure carrying the ``Status`` the API server would return."""

    code = 500
    reason = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        details: StatusDetails | None = None,
        code: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code
        if reason is not None:
            self.reason = reason

    def status(self) -> StatusBody:
        body: StatusBody = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def qualified(resource: str, group: str) -> str:
    """``pods`` for the core group, ``agentsessions.cephalon.dev`` otherwise."""
    return f"{resource}.{group}" if group else resource


def _details(name: str, group: str, kind: str) -> StatusDetails:
    details: StatusDetails = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    return details


class NotFound(ApiError):
    code = 404
    reason = "NotFound"

    @classmethod
    def of(cls, resource: str, group: str, name: str) -> NotFound:
        return cls(
            f'{qualified(resource, group)} "{name}" not found',
            details=_details(name, group, resource),
        )

    @classmethod
    def path(cls) -> NotFound:
        return cls(
            "the server could not find the requested resource",
            details={
                "causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]
            },
        )


class AlreadyExists(ApiError):
    code = 409
    reason = "AlreadyExists"

    @classmethod
    def of(cls, resource: str, group: str, name: str) -> AlreadyExists:
        return cls(
            f'{qualified(resource, group)} "{name}" already exists',
            details=_details(name, group, resource),
        )


class Conflict(ApiError):
    code = 409
    reason = "Conflict"

    @classmethod
    def modified(cls, resource: str, group: str, name: str) -> Conflict:
        return cls(
            f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": the object'
            " has been modified; please apply your changes to the latest version and try again",
            details=_details(name, group, resource),
        )

    @classmethod
    def precondition(cls, resource: str, group: str, name: str, what: str) -> Conflict:
        return cls(
            f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {what}',
            details=_details(name, group, resource),
        )


class Invalid(ApiError):
    code = 422
    reason = "Invalid"

    @classmethod
    def of(cls, kind: str, group: str, name: str, errors: Sequence[FieldError]) -> Invalid:
        qualified_kind = f"{kind}.{group}" if group else kind
        rendered = [str(e) for e in errors]
        joined = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
        causes: list[StatusCause] = [
            {"reason": e.reason, "message": e.message, "field": e.field} for e in errors
        ]
        details = _details(name, group, kind)
        details["causes"] = causes
        return cls(f'{qualified_kind} "{name}" is invalid: {joined}', details=details)

    @classmethod
    def patch(cls, problem: str) -> Invalid:
        """A JSON patch that decodes but cannot be applied (failed ``test``, missing path)."""
        return cls(
            "the server rejected our request due to an error in our request",
            details={"causes": [{"message": problem}]},
        )


class BadRequest(ApiError):
    code = 400
    reason = "BadRequest"


class Forbidden(ApiError):
    code = 403
    reason = "Forbidden"


class MethodNotAllowed(ApiError):
    code = 405
    reason = "MethodNotAllowed"

    @classmethod
    def default(cls) -> MethodNotAllowed:
        return cls("the server does not allow this method on the requested resource")


class UnsupportedMediaType(ApiError):
    code = 415
    reason = "UnsupportedMediaType"


class Gone(ApiError):
    code = 410
    reason = "Expired"

    @classmethod
    def too_old(cls, requested: int, oldest: int) -> Gone:
        return cls(f"too old resource version: {requested} ({oldest})")


def field_error(field: str, reason: str, message: str) -> FieldError:
    """Shorthand used by the built-in validators."""
    return FieldError(field, reason, message)


def invalid_value(field: str, value: Any, message: str) -> FieldError:
    rendered = f'"{value}"' if isinstance(value, str) else str(value)
    return FieldError(field, "FieldValueInvalid", f"Invalid value: {rendered}: {message}")
