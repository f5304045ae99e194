"""Session-scoped and access-layer credentials in Redis.

A session gets two credentials, both valid for that session only and both revoked when
it ends:

* its own Redis ACL user, allowed only the session's keys and channels
  (``<root>.p.<provider>.t.<tenant>.session.<sid>.*``) and only the commands the runtime
  uses — and only to *read* the control stream and the blobs the gateway writes;
* a bearer token for the tenant's model gateway, stored in Redis by digest with the
  session it belongs to (the model gateway looks it up per request).

Every function is safe to repeat: ``ACL SETUSER ... reset`` re-applies the whole rule
set, so a reconcile after a Redis restart restores exactly the same user.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from cephalon_contracts.keys import model_token_key, session_key_prefix
from cephalon_contracts.topics import DEFAULT_ROOT

from .names import session_redis_user

#: What a session runtime may run: streams in and out, its heartbeat and blobs,
#: pipelines, and the connection handshake redis-py performs.
SESSION_COMMANDS = (
    "ping", "hello", "auth", "select", "client|setname", "client|id",
    "xadd", "xreadgroup", "xread", "xack", "xgroup|create", "xgroup|createconsumer",
    "xautoclaim", "xclaim", "xpending", "xrange", "xrevrange", "xlen", "xinfo|stream",
    "xinfo|groups", "get", "set", "del", "exists", "expire", "pexpire", "ttl",
    "multi", "exec", "discard",
)  # fmt: skip
#: Access-layer users get broad data commands, but only on their tenant's keys.
ACCESS_CATEGORIES = ("+@read", "+@write", "+@stream", "+@scripting", "+@connection",
                     "+@transaction", "+@pubsub", "-@dangerous")  # fmt: skip


async def _command(client: aioredis.Redis, *args: str) -> object:
    """``execute_command`` for the ACL/CLIENT commands redis-py has no typed method for."""
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class SessionCredentials:
    redis_username: str
    redis_password: str
    model_token: str


@dataclass(frozen=True, slots=True)
class SessionRef:
    provider: str
    tenant: str
    session_id: str
    root: str = DEFAULT_ROOT

    @property
    def redis_user(self) -> str:
        return session_redis_user(self.provider, self.tenant, self.session_id)

    @property
    def key_prefix(self) -> str:
        return session_key_prefix(
            provider=self.provider, tenant=self.tenant, session_id=self.session_id, root=self.root
        )


def new_session_credentials(ref: SessionRef) -> SessionCredentials:
    """Fresh random secrets for a session (not yet applied)."""
    return SessionCredentials(
        redis_username=ref.redis_user,
        redis_password=secrets.token_urlsafe(32),
        model_token=secrets.token_urlsafe(32),
    )


#: Keys of a session its runtime may write (and read).
SESSION_WRITABLE = ("turns", "events", "heartbeat", "turn-done.*")
#: Keys of a session its runtime may only read. Approvals and cancels arrive on
#: ``control``; code the agent runs in the pod can read the runtime's Redis password, so
#: were control writable the agent could approve its own restricted tool calls.
SESSION_READ_ONLY = ("control", "blob.*")


def session_acl_rules(ref: SessionRef, password: str) -> list[str]:
    """The complete ``ACL SETUSER`` rule list for a session's user."""
    prefix = ref.key_prefix
    return [
        "reset",
        "on",
        f">{password}",
        *(f"~{prefix}{name}" for name in SESSION_WRITABLE),
        *(f"%R~{prefix}{name}" for name in SESSION_READ_ONLY),
        f"&{prefix}*",
        "-@all",
        *(f"+{command}" for command in SESSION_COMMANDS),
    ]


async def apply_session_credentials(
    client: aioredis.Redis, ref: SessionRef, credentials: SessionCredentials
) -> None:
    """Create (or restore) the session's Redis user and register its model token."""
    await _command(
        client,
        "ACL",
        "SETUSER",
        ref.redis_user,
        *session_acl_rules(ref, credentials.redis_password),
    )
    record = {
        "session_id": ref.session_id,
        "provider": ref.provider,
        "tenant": ref.tenant,
        "issued_at": datetime.now(UTC).isoformat(),
    }
    key = model_token_key(
        provider=ref.provider, tenant=ref.tenant, token=credentials.model_token, root=ref.root
    )
    await client.set(key, json.dumps(record), nx=True)


async def revoke_session_credentials(
    client: aioredis.Redis, ref: SessionRef, model_token: str | None
) -> None:
    """Delete the session's Redis user (dropping its connections) and its model token.

    Safe to repeat and safe when nothing was ever issued.
    """
    await _command(client, "ACL", "DELUSER", ref.redis_user)
    try:
        await _command(client, "CLIENT", "KILL", "USER", ref.redis_user)
    except ResponseError:
        pass  # no connection of that user is open
    if model_token:
        await client.delete(
            model_token_key(
                provider=ref.provider, tenant=ref.tenant, token=model_token, root=ref.root
            )
        )


def access_acl_rules(
    provider: str, tenant: str, password: str, root: str = DEFAULT_ROOT
) -> list[str]:
    """An access-layer user confined to one tenant's keys and channels."""
    prefix = f"{root}.p.{provider}.t.{tenant}."
    return ["reset", "on", f">{password}", f"~{prefix}*", f"&{prefix}*", *ACCESS_CATEGORIES]


async def apply_access_user(
    client: aioredis.Redis, username: str, provider: str, tenant: str, password: str, root: str
) -> None:
    await _command(
        client, "ACL", "SETUSER", username, *access_acl_rules(provider, tenant, password, root)
    )


async def delete_user(client: aioredis.Redis, username: str) -> None:
    await _command(client, "ACL", "DELUSER", username)
