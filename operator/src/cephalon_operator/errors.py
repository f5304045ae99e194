"""Errors of the operator.

::

    OperatorError
    ├── KubeError                 an API call failed (status, reason, message)
    │   ├── NotFound              404
    │   ├── AlreadyExists         409 AlreadyExists
    │   └── Conflict              409 Conflict (stale resourceVersion)
    └── SpecError                 a spec the operator cannot act on (→ kopf.PermanentError)

Handlers turn ``KubeError`` for transient statuses (429, 5xx, network) into
``kopf.TemporaryError`` and ``SpecError`` into ``kopf.PermanentError``.
"""

from __future__ import annotations


class OperatorError(Exception):
    """Base of the operator's own errors."""


class KubeError(OperatorError):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def transient(self) -> bool:
        return self.status == 429 or self.status >= 500 or self.status == 0


class NotFound(KubeError):
    pass


class AlreadyExists(KubeError):
    pass


class Conflict(KubeError):
    pass


class SpecError(OperatorError):
    """The object's spec cannot be reconciled; the message is shown to users."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
