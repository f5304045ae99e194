"""The tenant's limit on completions in flight, shared by all replicas through Redis.

Each completion holds a slot: a member of a sorted set scored with its lease expiry
(Redis server time). Acquiring drops expired leases first, so a replica that died
mid-stream frees its slots after one lease; a long stream renews its lease as it goes.
"""

from __future__ import annotations

import time
import uuid

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cephalon_contracts.topics import topic

from .errors import ConcurrencyLimitError, UpstreamUnavailableError

# KEYS[1] = the set; ARGV = limit, lease (ms), member, now (ms). Returns 1 when the slot
# is taken. The time comes from the replica (the access-layer ACL does not grant TIME);
# replicas' clocks only need to agree to well within a lease.
_ACQUIRE = """
local now = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return 1
"""
_RENEW = """
local now = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
return 1
"""


def _now_ms() -> str:
    return str(int(time.time() * 1000))


class Slot:
    """One held slot; :meth:`renew_if_due` is cheap to call per streamed chunk."""

    def __init__(self, limiter: ConcurrencyLimiter | None, member: str) -> None:
        self._limiter = limiter
        self.member = member
        self._renewed = time.monotonic()
        self._released = False

    async def renew_if_due(self) -> None:
        if self._limiter is None or self._released:
            return
        if time.monotonic() - self._renewed >= self._limiter.lease_s / 3:
            self._renewed = time.monotonic()
            await self._limiter.renew(self.member)

    async def release(self) -> None:
        if self._limiter is None or self._released:
            return
        self._released = True
        await self._limiter.release(self.member)


class ConcurrencyLimiter:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        provider: str,
        tenant: str,
        root: str,
        limit: int | None,
        lease_s: float,
    ) -> None:
        self._redis = redis
        self.limit = limit
        self.lease_s = lease_s
        self.key = topic(provider=provider, tenant=tenant, area="model", name="inflight", root=root)

    async def acquire(self) -> Slot:
        if self.limit is None:
            return Slot(None, "")
        member = uuid.uuid4().hex
        try:
            taken = await self._redis.eval(
                _ACQUIRE, 1, self.key, str(self.limit), self._lease_ms(), member, _now_ms()
            )
        except RedisError as e:
            raise UpstreamUnavailableError("the concurrency store is unreachable") from e
        if not taken:
            raise ConcurrencyLimitError(
                f"the tenant already has {self.limit} model requests in flight", retry_after=1
            )
        return Slot(self, member)

    def _lease_ms(self) -> str:
        return str(int(self.lease_s * 1000))

    async def renew(self, member: str) -> None:
        await self._redis.eval(_RENEW, 1, self.key, str(int(self.lease_s * 1000)), member)

    async def release(self, member: str) -> None:
        await self._redis.zrem(self.key, member)

    async def in_flight(self) -> int:
        return int(await self._redis.zcard(self.key))
