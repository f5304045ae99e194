"""Typed helpers over redis-py for the few reads whose return types redis-py leaves
as unions (the client is made with ``decode_responses=True``, so values are ``str``)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

Entry = tuple[str, dict[str, str]]


COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
"""Lua: delete KEYS[1] only while it still holds ARGV[1] (a lease or mark we own)."""


async def delete_if_equal(redis: aioredis.Redis, key: str, value: str) -> bool:
    """Delete ``key`` if it still holds ``value``, atomically."""
    deleted = await redis.eval(COMPARE_AND_DELETE, 1, key, value)
    return bool(deleted)


async def ensure_group(redis: aioredis.Redis, stream: str, group: str) -> None:
    """Create the consumer group (and the stream) unless it exists."""
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise


async def read_group(
    redis: aioredis.Redis,
    group: str,
    consumer: str,
    stream: str,
    cursor: str,
    *,
    count: int,
    block: int | None,
) -> list[Entry]:
    response: Any = await redis.xreadgroup(
        group, consumer, {stream: cursor}, count=count, block=block
    )
    if not response:
        return []
    return [(str(i), dict(f or {})) for i, f in response[0][1]]


async def autoclaim(
    redis: aioredis.Redis, stream: str, group: str, consumer: str, *, min_idle_ms: int, count: int
) -> list[Entry]:
    response: Any = await redis.xautoclaim(
        stream, group, consumer, min_idle_time=min_idle_ms, count=count
    )
    return [(str(i), dict(f or {})) for i, f in response[1] if f]


async def hget(redis: aioredis.Redis, key: str, field: str) -> str | None:
    value: Any = await redis.hget(key, field)
    return None if value is None else str(value)


async def hgetall(redis: aioredis.Redis, key: str) -> dict[str, str]:
    value: Any = await redis.hgetall(key)
    return {str(k): str(v) for k, v in (value or {}).items()}


async def hset(redis: aioredis.Redis, key: str, mapping: dict[str, str]) -> None:
    await redis.hset(key, mapping=dict(mapping.items()))


async def hsetnx(redis: aioredis.Redis, key: str, field: str, value: str) -> bool:
    return bool(await redis.hsetnx(key, field, value))


async def zdue(redis: aioredis.Redis, key: str, until: float) -> list[str]:
    value: Any = await redis.zrangebyscore(key, "-inf", until)
    return [str(v) for v in value]
