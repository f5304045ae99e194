"""Usage records and token budgets, kept in Redis so every replica sees the same totals.

Per session: the hash :func:`cephalon_contracts.keys.usage_key` (``input_tokens``,
``output_tokens``, ``requests``; ``HINCRBY``), which the operator copies into
``AgentSession.status.usage``. Per tenant and UTC day: :func:`tenant_usage_key`.
Budgets are checked before a request goes upstream, against what earlier requests
used: a request that starts under budget may end over it (the counts only exist once
the answer streamed), and the next one is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cephalon_contracts.keys import tenant_usage_key, usage_key

from .errors import BudgetExceededError, UpstreamUnavailableError
from .settings import BudgetSettings

FIELDS = ("input_tokens", "output_tokens", "requests")
SESSION_TTL_S = 7 * 24 * 3600
DAY_TTL_S = 35 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


def _utc_day() -> str:
    return datetime.now(UTC).strftime("%Y%m%d")


def _total(values: list[str | None]) -> int:
    return sum(int(v) for v in values[:2] if v is not None)


class UsageLedger:
    """Reads and writes the usage hashes of one tenant."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        provider: str,
        tenant: str,
        root: str,
        budgets: BudgetSettings,
        day: Callable[[], str] = _utc_day,
    ) -> None:
        self._redis = redis
        self._provider = provider
        self._tenant = tenant
        self._root = root
        self._budgets = budgets
        self._day = day

    def session_key(self, session_id: str) -> str:
        return usage_key(
            provider=self._provider, tenant=self._tenant, session_id=session_id, root=self._root
        )

    def day_key(self, day: str | None = None) -> str:
        return tenant_usage_key(
            provider=self._provider, tenant=self._tenant, day=day or self._day(), root=self._root
        )

    async def check_budgets(self, session_id: str) -> None:
        """Raise :class:`BudgetExceededError` when the session's or the tenant's daily
        token budget is already used up."""
        session_limit = self._budgets.session_tokens
        day_limit = self._budgets.tenant_tokens_per_day
        if session_limit is None and day_limit is None:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hmget(self.session_key(session_id), list(FIELDS[:2]))
                pipe.hmget(self.day_key(), list(FIELDS[:2]))
                session_values, day_values = await pipe.execute()
        except RedisError as e:
            raise UpstreamUnavailableError("the usage store is unreachable") from e
        used = _total(session_values)
        if session_limit is not None and used >= session_limit:
            raise BudgetExceededError(
                f"this session used {used} of its {session_limit} tokens; start a new session"
            )
        used_today = _total(day_values)
        if day_limit is not None and used_today >= day_limit:
            raise BudgetExceededError(
                f"the tenant used {used_today} of its {day_limit} tokens for today (UTC)"
            )

    async def record(self, session_id: str, usage: Usage) -> None:
        """Add one request's counts to the session and to the tenant's day."""
        increments = {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "requests": 1,
        }
        session_key, day_key = self.session_key(session_id), self.day_key()
        async with self._redis.pipeline(transaction=False) as pipe:
            for field, amount in increments.items():
                pipe.hincrby(session_key, field, amount)
                pipe.hincrby(day_key, field, amount)
            pipe.expire(session_key, SESSION_TTL_S)
            pipe.expire(day_key, DAY_TTL_S)
            await pipe.execute()

    async def session_usage(self, session_id: str) -> dict[str, int]:
        raw = await self._redis.hgetall(self.session_key(session_id))
        return {str(k): int(v) for k, v in raw.items()}
