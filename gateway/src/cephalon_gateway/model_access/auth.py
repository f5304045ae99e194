"""Session bearer tokens: who is calling, checked against Redis on every request.

The operator registers each session's token at
:func:`cephalon_contracts.keys.model_token_key` — the key holds the token's SHA-256,
never the token — and deletes it when the session ends, so the very next request after
revocation finds nothing and gets 401. There is no cache on purpose: one ``GET`` per
request is cheap and makes revocation immediate on every replica.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cephalon_contracts.keys import model_token_key

from .errors import AuthenticationError, UpstreamUnavailableError


@dataclass(frozen=True, slots=True)
class SessionIdentity:
    session_id: str
    provider: str
    tenant: str


def bearer_token(header: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header (``api-key`` is also
    accepted, as Azure-style clients send it)."""
    if not header:
        raise AuthenticationError("missing bearer token")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <session token>'")
    return token.strip()


class TokenVerifier:
    """Looks a session token up by digest in the tenant's key space."""

    def __init__(self, redis: aioredis.Redis, *, provider: str, tenant: str, root: str) -> None:
        self._redis = redis
        self._provider = provider
        self._tenant = tenant
        self._root = root

    async def verify(self, token: str) -> SessionIdentity:
        key = model_token_key(
            provider=self._provider, tenant=self._tenant, token=token, root=self._root
        )
        try:
            raw = await self._redis.get(key)
        except RedisError as e:
            raise UpstreamUnavailableError("the session store is unreachable") from e
        if raw is None:
            raise AuthenticationError("unknown or revoked session token")
        try:
            record = json.loads(raw)
            identity = SessionIdentity(
                session_id=str(record["session_id"]),
                provider=str(record["provider"]),
                tenant=str(record["tenant"]),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise AuthenticationError("malformed session token record") from e
        if (identity.provider, identity.tenant) != (self._provider, self._tenant):
            raise AuthenticationError("the session token belongs to another tenant")
        return identity
