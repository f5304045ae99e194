"""Errors of the local pod executor.

::

    KubeletError
    ├── KubeconfigError        the kubeconfig cannot be read or names nothing usable
    ├── ApiError               the Kubernetes API answered with a non-2xx Status
    │   ├── NotFound           404
    │   ├── Conflict           409 (AlreadyExists or a stale resourceVersion)
    │   └── Gone               410 (a watch resourceVersion older than the kept history)
    └── ContainerConfigError   a container's env or volumes reference something missing
                               (reported as CreateContainerConfigError, retried)
"""

from __future__ import annotations


class KubeletError(Exception):
    """Base of every error the executor raises on purpose."""


class KubeconfigError(KubeletError):
    """The kubeconfig file is missing, malformed or names no usable cluster."""


class ApiError(KubeletError):
    """The API server answered with an error ``Status``."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message


class NotFound(ApiError):
    """404: the object does not exist."""


class Conflict(ApiError):
    """409: the object exists already or the write carried a stale resourceVersion."""


class Gone(ApiError):
    """410: the requested resourceVersion is older than the server keeps."""


class ContainerConfigError(KubeletError):
    """A Secret, ConfigMap or key a container needs is missing (and not optional).

    The message reads like the real kubelet's, e.g. ``secret "db" not found``.
    """
