from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from cephalon_devkit.redis_server import RedisServer
from cephalon_gateway.discord_access.keys import KeySpace
from cephalon_operator.credentials import apply_access_user

PROVIDER, TENANT, ROOT = "discord", "duck", "promethean"


@dataclass(frozen=True, slots=True)
class AccessUser:
    username: str
    password: str


@pytest.fixture
def space() -> KeySpace:
    return KeySpace(PROVIDER, TENANT, ROOT)


@pytest.fixture
async def access_user(redis_admin: aioredis.Redis) -> AccessUser:
    """The gateway's Redis user, confined to the tenant's keys as in a cluster."""
    user = AccessUser("gateway-discord-duck", secrets.token_hex(16))
    await apply_access_user(redis_admin, user.username, PROVIDER, TENANT, user.password, ROOT)
    return user


@pytest.fixture
async def gateway_redis(
    redis_server: RedisServer, access_user: AccessUser
) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis(
        host=redis_server.host,
        port=redis_server.port,
        username=access_user.username,
        password=access_user.password,
        decode_responses=True,
    )
    try:
        yield client
    finally:
        await client.aclose()
