"""pytest plugin: a real redis-server with ACLs for the test (``redis_server``) and an
admin client (``redis_admin``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from cephalon_devkit.redis_server import RedisServer, running_redis


@pytest.fixture
async def redis_server() -> AsyncIterator[RedisServer]:
    async with running_redis() as server:
        yield server


@pytest.fixture
async def redis_admin(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis(
        host=redis_server.host,
        port=redis_server.port,
        username=redis_server.admin_user,
        password=redis_server.admin_password,
        decode_responses=True,
    )
    try:
        yield client
    finally:
        await client.aclose()
