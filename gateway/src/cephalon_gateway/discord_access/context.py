"""Everything a handler needs, made once at start-up and passed in."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis.asyncio as aioredis

from .keys import KeySpace
from .metrics import Metrics
from .rest import DiscordRest
from .sessions import Sessions
from .settings import GatewaySettings
from .tenant import TenantConfig


@dataclass(slots=True)
class GatewayContext:
    settings: GatewaySettings
    space: KeySpace
    redis: aioredis.Redis
    """Short commands, on a bounded pool (a burst waits for a connection rather than
    opening hundreds)."""
    stream_redis: aioredis.Redis
    """Blocking stream reads (one connection per renderer while it waits)."""
    rest: DiscordRest
    sessions: Sessions
    tenant: TenantConfig
    metrics: Metrics
    bot_user_id: str


def nonce(*parts: str) -> str:
    """A Discord message nonce (at most 25 characters) derived from an idempotency key:
    with ``enforce_nonce`` Discord returns the first message for a repeated nonce."""
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:25]
