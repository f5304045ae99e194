"""What the handlers need, made once at start-up and kept in kopf's ``memo``."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from .kube import KubeClient
from .metrics import Metrics
from .settings import OperatorSettings

TenantKey = tuple[str, str]


@dataclass
class Admissions:
    """Sessions admitted against the tenant quotas by this process.

    One operator replica runs at a time, so an in-process lock per tenant makes the
    count-then-admit step race-free; the persisted truth (status phases) is re-read
    through the kopf index after a restart.
    """

    locks: dict[TenantKey, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    active: dict[TenantKey, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    """tenant → {session name: owner id} of sessions holding a quota slot."""

    def release(self, tenant: TenantKey, session: str) -> None:
        self.active[tenant].pop(session, None)


@dataclass
class Deps:
    settings: OperatorSettings
    kube: KubeClient
    redis: aioredis.Redis
    metrics: Metrics = field(default_factory=Metrics)
    admissions: Admissions = field(default_factory=Admissions)
