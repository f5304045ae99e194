"""The shared limiter's Lua scripts against a real redis-server, as the gateway's
confined Redis user."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis

from cephalon_gateway.discord_access.keys import KeySpace
from cephalon_gateway.discord_access.ratelimit import RateLimiter, RateLimitInfo

ROUTE = "POST /channels/{channel_id}/messages"


def limiter(redis: aioredis.Redis, space: KeySpace, rate: float = 40.0) -> RateLimiter:
    return RateLimiter(
        redis, space, global_rate=rate, channel_rate=rate, global_burst=1, channel_burst=1
    )


async def test_global_rate_is_shared_by_two_replicas(
    gateway_redis: aioredis.Redis, space: KeySpace
) -> None:
    a, b = limiter(gateway_redis, space, 50.0), limiter(gateway_redis, space, 50.0)
    start = time.monotonic()

    async def burst(lim: RateLimiter, n: int) -> None:
        for i in range(n):
            await lim.acquire(route_key=ROUTE, major=str(i), channel=None)

    await asyncio.gather(burst(a, 15), burst(b, 15))
    elapsed = time.monotonic() - start
    # 30 requests at 50/s with a burst of 1 take at least ~0.55 s in total.
    assert elapsed >= 0.5


async def test_exhausted_bucket_blocks_until_reset(
    gateway_redis: aioredis.Redis, space: KeySpace
) -> None:
    lim, other = limiter(gateway_redis, space, 1000.0), limiter(gateway_redis, space, 1000.0)
    info = RateLimitInfo(status=200, bucket="b1", limit=5, remaining=0, reset_after=0.3)
    await lim.observe(route_key=ROUTE, major="c1", info=info)
    # Another replica learns the bucket from Redis and waits for its reset.
    waited = await other.acquire(route_key=ROUTE, major="c1", channel="c1")
    assert 0.2 <= waited <= 0.6
    # Another channel (major parameter) is not affected.
    assert await other.acquire(route_key=ROUTE, major="c2", channel="c2") < 0.05


async def test_429_retry_after_blocks_everyone(
    gateway_redis: aioredis.Redis, space: KeySpace
) -> None:
    lim, other = limiter(gateway_redis, space, 1000.0), limiter(gateway_redis, space, 1000.0)
    info = RateLimitInfo(status=429, retry_after=0.25, is_global=True)
    await lim.observe(route_key=ROUTE, major="c1", info=info)
    waited = await other.acquire(route_key="GET /users/@me", major="", channel=None)
    assert 0.15 <= waited <= 0.5


async def test_channel_share_does_not_starve_other_channels(
    gateway_redis: aioredis.Redis, space: KeySpace
) -> None:
    lim = RateLimiter(
        gateway_redis, space, global_rate=1000.0, channel_rate=10.0, global_burst=1, channel_burst=1
    )
    for _ in range(3):
        await lim.acquire(route_key=ROUTE, major="busy", channel="busy")
    start = time.monotonic()
    await lim.acquire(route_key=ROUTE, major="quiet", channel="quiet")
    assert time.monotonic() - start < 0.05
