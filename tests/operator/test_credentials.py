"""Session credentials against a real redis-server with ACLs on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, ConnectionError, NoPermissionError, ResponseError

from cephalon_contracts.keys import model_token_key
from cephalon_devkit.redis_server import RedisServer
from cephalon_operator.credentials import (
    SessionRef,
    apply_access_user,
    apply_session_credentials,
    new_session_credentials,
    revoke_session_credentials,
)

REF = SessionRef("discord", "duck", "s-1")
OTHER = SessionRef("discord", "duck", "s-2")
OWN = "promethean.p.discord.t.duck.session.s-1.events"


def _connect(server: RedisServer, user: str, password: str) -> aioredis.Redis:
    return aioredis.Redis(
        host=server.host,
        port=server.port,
        username=user,
        password=password,
        decode_responses=True,
        retry=Retry(NoBackoff(), 0),  # a revoked user must fail now, not after backoff
    )


@pytest.fixture
async def session_client(
    redis_server: RedisServer, redis_admin: aioredis.Redis
) -> AsyncIterator[tuple[aioredis.Redis, str]]:
    creds = new_session_credentials(REF)
    await apply_session_credentials(redis_admin, REF, creds)
    client = _connect(redis_server, creds.redis_username, creds.redis_password)
    try:
        yield client, creds.model_token
    finally:
        await client.aclose()


async def test_session_user_reads_but_cannot_write_its_control_stream(
    session_client: tuple[aioredis.Redis, str], redis_admin: aioredis.Redis
) -> None:
    """Approvals arrive on control: code the agent runs must not be able to approve."""
    client, _ = session_client
    control = "promethean.p.discord.t.duck.session.s-1.control"
    await redis_admin.xadd(control, {"envelope": "{}"})
    assert len(await client.xread({control: "0"})) == 1
    assert len(await client.xrevrange(control, count=1)) == 1
    with pytest.raises(NoPermissionError):
        await client.xadd(control, {"envelope": '{"type": "approval_decision"}'})
    with pytest.raises(NoPermissionError):
        await client.delete(control)
    blob = "promethean.p.discord.t.duck.session.s-1.blob." + "0" * 64
    await redis_admin.set(blob, b"attachment")
    assert await client.get(blob) == "attachment"
    with pytest.raises(NoPermissionError):
        await client.set(blob, "tampered")


async def test_session_user_reaches_its_own_streams(
    session_client: tuple[aioredis.Redis, str],
) -> None:
    client, _ = session_client
    await client.xadd(OWN, {"envelope": "{}"})
    await client.xgroup_create(
        "promethean.p.discord.t.duck.session.s-1.turns", "runtime", mkstream=True
    )
    assert await client.xlen(OWN) == 1
    await client.set("promethean.p.discord.t.duck.session.s-1.heartbeat", "x", ex=30)


@pytest.mark.parametrize(
    "key",
    [
        "promethean.p.discord.t.duck.session.s-2.events",  # another session
        "promethean.p.discord.t.goose.session.s-1.events",  # same id, other tenant
        "promethean.p.discord.t.duck.social.message.post",  # tenant topic
        "promethean.p.discord.t.duck.session.s-10.events",  # prefix look-alike
    ],
)
async def test_session_user_cannot_touch_other_keys(
    session_client: tuple[aioredis.Redis, str], key: str
) -> None:
    client, _ = session_client
    with pytest.raises(NoPermissionError):
        await client.xadd(key, {"envelope": "{}"})


@pytest.mark.parametrize("command", [("FLUSHALL",), ("CONFIG", "GET", "*"), ("KEYS", "*"),
                                     ("ACL", "LIST"), ("EVAL", "return 1", "0")])  # fmt: skip
async def test_session_user_cannot_run_admin_commands(
    session_client: tuple[aioredis.Redis, str], command: tuple[str, ...]
) -> None:
    client, _ = session_client
    with pytest.raises(NoPermissionError):
        await client.execute_command(*command)  # type: ignore[no-untyped-call]


async def test_model_token_is_registered_by_digest_only(
    session_client: tuple[aioredis.Redis, str], redis_admin: aioredis.Redis
) -> None:
    _, token = session_client
    key = model_token_key(provider="discord", tenant="duck", token=token)
    record = json.loads(await redis_admin.get(key))
    assert record["session_id"] == "s-1"
    assert token not in key and token not in json.dumps(record)


async def test_revocation_drops_the_connection_and_the_token(
    redis_server: RedisServer, redis_admin: aioredis.Redis
) -> None:
    creds = new_session_credentials(REF)
    await apply_session_credentials(redis_admin, REF, creds)
    client = _connect(redis_server, creds.redis_username, creds.redis_password)
    await client.ping()
    await revoke_session_credentials(redis_admin, REF, creds.model_token)
    with pytest.raises((ConnectionError, AuthenticationError, ResponseError)):
        await client.ping()
    await client.aclose()
    again = _connect(redis_server, creds.redis_username, creds.redis_password)
    with pytest.raises((AuthenticationError, ResponseError)):
        await again.ping()
    await again.aclose()
    key = model_token_key(provider="discord", tenant="duck", token=creds.model_token)
    assert await redis_admin.exists(key) == 0
    await revoke_session_credentials(redis_admin, REF, creds.model_token)  # repeatable


async def test_applying_twice_keeps_one_working_user(
    redis_server: RedisServer, redis_admin: aioredis.Redis
) -> None:
    creds = new_session_credentials(REF)
    await apply_session_credentials(redis_admin, REF, creds)
    await apply_session_credentials(redis_admin, REF, creds)
    users = await redis_admin.acl_users()
    assert users.count(REF.redis_user) == 1
    client = _connect(redis_server, creds.redis_username, creds.redis_password)
    assert await client.ping()
    await client.aclose()


async def test_access_user_is_confined_to_its_tenant(
    redis_server: RedisServer, redis_admin: aioredis.Redis
) -> None:
    await apply_access_user(
        redis_admin, "gateway:discord:duck", "discord", "duck", "pw-1", "promethean"
    )
    client = _connect(redis_server, "gateway:discord:duck", "pw-1")
    await client.xadd("promethean.p.discord.t.duck.session.s-9.turns", {"e": "{}"})
    with pytest.raises(NoPermissionError):
        await client.xadd("promethean.p.discord.t.goose.session.s-9.turns", {"e": "{}"})
    with pytest.raises(NoPermissionError):
        await client.execute_command("FLUSHALL")  # type: ignore[no-untyped-call]
    await client.aclose()
