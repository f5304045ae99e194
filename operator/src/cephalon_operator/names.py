"""Deterministic, safe names for everything the operator creates.

Kubernetes names and label values go through :func:`safe_slug`: a value that is already
a valid DNS label is kept as it is; anything else is lower-cased, stripped to
``[a-z0-9-]``, truncated, and suffixed with a hash of the original, so two different
inputs never share a name and the same input always gets the same one.
"""

from __future__ import annotations

import hashlib
import re

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_INVALID = re.compile(r"[^a-z0-9-]+")
MAX_NAME = 63


def safe_slug(value: str, *, max_length: int = MAX_NAME) -> str:
    """A DNS label (≤ ``max_length``) for ``value``, unique per distinct input."""
    if len(value) <= max_length and _DNS_LABEL.fullmatch(value):
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    cleaned = _INVALID.sub("-", value.lower()).strip("-")
    keep = max_length - len(digest) - 1
    stem = cleaned[:keep].rstrip("-")
    return f"{stem}-{digest}" if stem else f"x-{digest}"


def with_suffix(base: str, suffix: str) -> str:
    """``<base>-<suffix>``, kept within 63 characters by hashing ``base`` if needed."""
    candidate = f"{base}-{suffix}"
    if len(candidate) <= MAX_NAME and _DNS_LABEL.fullmatch(candidate):
        return candidate
    return f"{safe_slug(base, max_length=MAX_NAME - len(suffix) - 1)}-{suffix}"


def session_namespace(provider: str, tenant: str, explicit: str | None) -> str:
    """The tenant's session namespace: ``cephalon-<provider>-<tenant>`` unless set."""
    return explicit or safe_slug(f"cephalon-{provider}-{tenant}")


def tenant_object_name(provider: str, tenant: str, component: str) -> str:
    """Access-layer objects of a tenant in the release namespace."""
    return with_suffix(f"cephalon-{provider}-{tenant}", component)


def session_pod_name(session: str) -> str:
    return with_suffix(session, "pod")


def session_secret_name(session: str) -> str:
    return with_suffix(session, "credentials")


def session_pvc_name(session: str) -> str:
    return with_suffix(session, "workspace")


def session_redis_user(provider: str, tenant: str, session: str) -> str:
    """The session's own Redis ACL user."""
    return f"session:{provider}:{tenant}:{session}"
