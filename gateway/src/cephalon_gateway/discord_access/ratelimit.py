"""One Discord rate limiter for all replicas of a tenant, kept in Redis.

Before each REST call a replica runs one Lua script that checks, atomically and on the
Redis clock (so replicas agree):

1. a global block set after a global 429 (``retry_after``),
2. the route's bucket: a block set after a 429, or ``remaining`` exhausted before
   ``reset`` (both learnt from Discord's ``X-RateLimit-*`` headers by any replica),
3. a per-channel GCRA share, so one busy session cannot use the whole budget,
4. the global GCRA budget, ``global_rate_per_second`` (default 40, under Discord's
   50/s with headroom); interaction callbacks and follow-ups are exempt, as on Discord.

Times are the replicas' wall clocks in milliseconds (the gateway's Redis user may not
run ``TIME``); NTP-synchronized nodes agree well within the limiter's granularity.

It either takes a slot (and decrements the bucket's ``remaining``) or answers how many
milliseconds to wait. After the response, :meth:`RateLimiter.observe` stores the
headers (bucket hash of the route, remaining, reset) and any 429 block for everyone.
Each session renders sequentially, so a channel's requests form their own queue.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from . import keys

_ACQUIRE = """
local now = tonumber(ARGV[#ARGV])
local block = redis.call('PTTL', KEYS[1])
if block > 0 then return block end
block = redis.call('PTTL', KEYS[3])
if block > 0 then return block end
local remaining = redis.call('HGET', KEYS[2], 'remaining')
local reset_at = tonumber(redis.call('HGET', KEYS[2], 'reset_at') or '0')
if remaining and tonumber(remaining) <= 0 and reset_at > now then return reset_at - now end
local function gcra_wait(key, interval, burst)
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local allow_at = tat - interval * burst
  if allow_at > now then return allow_at - now, tat end
  return 0, tat
end
local g_int, g_burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local c_int, c_burst = tonumber(ARGV[3]), tonumber(ARGV[4])
local gw, gtat = 0, 0
if ARGV[5] == '1' then gw, gtat = gcra_wait(KEYS[4], g_int, g_burst) end
local cw, ctat = 0, 0
if KEYS[5] ~= KEYS[4] then cw, ctat = gcra_wait(KEYS[5], c_int, c_burst) end
local wait = math.max(gw, cw)
if wait > 0 then return math.ceil(wait) end
if ARGV[5] == '1' then
  redis.call('SET', KEYS[4], gtat + g_int, 'PX', math.ceil(gtat + g_int - now) + 1000)
end
if KEYS[5] ~= KEYS[4] then
  redis.call('SET', KEYS[5], ctat + c_int, 'PX', math.ceil(ctat + c_int - now) + 1000)
end
if remaining then redis.call('HINCRBY', KEYS[2], 'remaining', -1) end
return 0
"""

_OBSERVE = """
local now = tonumber(ARGV[#ARGV])
local remaining, reset_after = tonumber(ARGV[1]), tonumber(ARGV[2])
local reset_at = now + math.ceil(reset_after * 1000)
local stored = tonumber(redis.call('HGET', KEYS[1], 'reset_at') or '0')
if stored + 50 < reset_at then
  redis.call('HSET', KEYS[1], 'remaining', remaining, 'reset_at', reset_at)
else
  local current = tonumber(redis.call('HGET', KEYS[1], 'remaining') or remaining)
  redis.call('HSET', KEYS[1], 'remaining', math.min(current, remaining))
end
redis.call('PEXPIRE', KEYS[1], math.ceil(reset_after * 1000) + 1000)
return 0
"""


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """What one response said about rate limits."""

    status: int
    bucket: str | None = None
    limit: int | None = None
    remaining: int | None = None
    reset_after: float | None = None
    retry_after: float | None = None
    is_global: bool = False
    scope: str | None = None

    @property
    def limited(self) -> bool:
        return self.status == 429


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_rate_limit(
    status: int, headers: Mapping[str, str], body: Mapping[str, Any] | None = None
) -> RateLimitInfo:
    """Read ``X-RateLimit-*`` headers (and a 429 body's ``retry_after``/``global``)."""
    lower = {k.lower(): v for k, v in headers.items()}
    remaining = _float(lower.get("x-ratelimit-remaining"))
    limit = _float(lower.get("x-ratelimit-limit"))
    retry_after: float | None = None
    is_global = lower.get("x-ratelimit-global", "").lower() == "true"
    if status == 429:
        if body is not None:
            retry_after = _float(body.get("retry_after"))
            is_global = is_global or bool(body.get("global", False))
        if retry_after is None:
            retry_after = _float(lower.get("retry-after")) or _float(
                lower.get("x-ratelimit-reset-after")
            )
    return RateLimitInfo(
        status=status,
        bucket=lower.get("x-ratelimit-bucket"),
        limit=int(limit) if limit is not None else None,
        remaining=int(remaining) if remaining is not None else None,
        reset_after=_float(lower.get("x-ratelimit-reset-after")),
        retry_after=retry_after,
        is_global=is_global,
        scope=lower.get("x-ratelimit-scope"),
    )


def gcra(tat: float, now: float, interval: float, burst: int) -> tuple[float, float]:
    """The GCRA step the Lua script runs: ``(wait, new_tat)``; ``wait == 0`` means a
    slot was taken. ``burst`` extra requests may go at once."""
    tat = max(tat, now)
    allow_at = tat - interval * burst
    if allow_at > now:
        return allow_at - now, tat
    return 0.0, tat + interval


#: Routes Discord exempts from the per-bot global limit (interaction callbacks and
#: follow-ups through the interaction's webhook).
GLOBAL_EXEMPT = ("/interactions/", "/webhooks/")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:20]


class RateLimiter:
    """The shared limiter; one per process, made in the app's lifespan."""

    def __init__(
        self,
        redis: aioredis.Redis,
        space: keys.KeySpace,
        *,
        global_rate: float,
        channel_rate: float,
        global_burst: int = 5,
        channel_burst: int = 3,
        max_wait: float = 60.0,
    ) -> None:
        self._redis = redis
        self._space = space
        self._global_interval = 1000.0 / global_rate
        self._channel_interval = 1000.0 / channel_rate
        self._global_burst = global_burst
        self._channel_burst = channel_burst
        self._max_wait = max_wait
        self._acquire = redis.register_script(_ACQUIRE)
        self._observe = redis.register_script(_OBSERVE)
        self._route_buckets: dict[str, str] = {}
        self.waited_seconds = 0.0

    async def _bucket_id(self, route_key: str, major: str) -> str:
        bucket = self._route_buckets.get(route_key)
        if bucket is None:
            stored = await self._redis.get(self._space.gateway(f"rl.route.{_digest(route_key)}"))
            bucket = str(stored) if stored else f"route-{_digest(route_key)}"
            if stored:
                self._route_buckets[route_key] = bucket
        return _digest(f"{bucket}:{major}")

    async def acquire(self, *, route_key: str, major: str, channel: str | None) -> float:
        """Wait until a request on ``route_key`` may go; returns seconds waited."""
        bucket = await self._bucket_id(route_key, major)
        global_key = self._space.gateway("rl.global")
        channel_key = self._space.gateway(f"rl.channel.{channel}") if channel else global_key
        script_keys = [
            self._space.gateway("rl.block.global"),
            self._space.gateway(f"rl.bucket.{bucket}"),
            self._space.gateway(f"rl.block.{bucket}"),
            global_key,
            channel_key,
        ]
        # Interaction responses and follow-ups do not count against the global limit.
        counts = "0" if route_key.split(" ", 1)[-1].startswith(GLOBAL_EXEMPT) else "1"
        args = [self._global_interval, self._global_burst]
        args += [self._channel_interval, self._channel_burst]
        waited = 0.0
        while True:
            now_ms = time.time() * 1000.0
            wait_ms = int(await self._acquire(keys=script_keys, args=[*args, counts, now_ms]))
            if wait_ms <= 0:
                self.waited_seconds += waited
                return waited
            delay = min(wait_ms / 1000.0, self._max_wait) + random.uniform(0, 0.005)
            waited += delay
            await asyncio.sleep(delay)

    async def observe(self, *, route_key: str, major: str, info: RateLimitInfo) -> None:
        """Share what a response said with every replica."""
        if info.bucket and self._route_buckets.get(route_key) != info.bucket:
            self._route_buckets[route_key] = info.bucket
            await self._redis.set(
                self._space.gateway(f"rl.route.{_digest(route_key)}"), info.bucket, ex=86400
            )
        bucket = await self._bucket_id(route_key, major)
        if info.limited and info.retry_after is not None:
            target = "global" if info.is_global else bucket
            millis = max(1, math.ceil(info.retry_after * 1000))
            await self._redis.set(self._space.gateway(f"rl.block.{target}"), "1", px=millis)
            return
        if info.remaining is not None and info.reset_after is not None:
            await self._observe(
                keys=[self._space.gateway(f"rl.bucket.{bucket}")],
                args=[info.remaining, info.reset_after, time.time() * 1000.0],
            )
