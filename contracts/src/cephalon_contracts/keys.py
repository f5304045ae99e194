"""Redis key names that more than one component must agree on.

Streams are topics (:mod:`cephalon_contracts.topics`); these are the other keys: a
session's heartbeat and blobs, the pattern its Redis ACL user is confined to, and the
lookup key of a session's model-gateway token (stored by digest, never in clear).
"""

from __future__ import annotations

import hashlib

from .topics import DEFAULT_ROOT, session_topic, topic


def session_key_prefix(
    *, provider: str, tenant: str, session_id: str, root: str = DEFAULT_ROOT
) -> str:
    """``<root>.p.<provider>.t.<tenant>.session.<sid>.`` — every key of one session."""
    probe = session_topic(
        provider=provider, tenant=tenant, session_id=session_id, stream="x", root=root
    )
    return probe[: -len("x")]


def heartbeat_key(*, provider: str, tenant: str, session_id: str, root: str = DEFAULT_ROOT) -> str:
    """Where the runtime writes its heartbeat (activity, usage, progress, MCP health)."""
    return session_topic(
        provider=provider, tenant=tenant, session_id=session_id, stream="heartbeat", root=root
    )


def blob_key(
    *, provider: str, tenant: str, session_id: str, sha256: str, root: str = DEFAULT_ROOT
) -> str:
    """An attachment the gateway stored for the session, addressed by content hash."""
    return session_topic(
        provider=provider, tenant=tenant, session_id=session_id, stream=f"blob.{sha256}", root=root
    )


def token_digest(token: str) -> str:
    """The SHA-256 of a bearer token; only digests are stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def model_token_key(*, provider: str, tenant: str, token: str, root: str = DEFAULT_ROOT) -> str:
    """Key holding the session id a model-gateway bearer token was issued to."""
    return topic(
        provider=provider,
        tenant=tenant,
        area="auth",
        name=f"model-token.{token_digest(token)}",
        root=root,
    )


def usage_key(*, provider: str, tenant: str, session_id: str, root: str = DEFAULT_ROOT) -> str:
    """Hash of token counts the model gateway measured for a session (fields
    ``input_tokens``, ``output_tokens``, ``requests``); the operator copies it to status.
    Kept outside the session's own key prefix so the session cannot rewrite it."""
    return topic(
        provider=provider, tenant=tenant, area="usage", name=f"session.{session_id}", root=root
    )


def tenant_usage_key(*, provider: str, tenant: str, day: str, root: str = DEFAULT_ROOT) -> str:
    """Hash of the tenant's token counts for one UTC day (``YYYYMMDD``)."""
    return topic(provider=provider, tenant=tenant, area="usage", name=f"day.{day}", root=root)
