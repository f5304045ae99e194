"""The heartbeat the operator turns into AgentSession status (and idle suspension).

Written with ``SET … EX ttl`` every ``interval_seconds`` and at once whenever something
visible changes (:meth:`HeartbeatWriter.poke`), so status follows a turn within
milliseconds and a dead runtime's heartbeat expires by itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from redis.exceptions import RedisError

from cephalon_contracts.events import Usage
from cephalon_contracts.heartbeat import Heartbeat, TurnProgress

from .bus import SessionBus

log = structlog.get_logger("cephalon_runtime.heartbeat")


@dataclass
class SessionState:
    """What the heartbeat reports; the turn loop and the MCP supervisor update it."""

    ready: bool = False
    busy: bool = False
    last_activity_at: datetime | None = None
    turns: int = 0
    usage: Usage = field(default_factory=Usage)
    progress: TurnProgress = field(default_factory=TurnProgress)
    mcp: dict[str, bool] = field(default_factory=dict)
    policy_hash: str | None = None

    def touch(self) -> None:
        self.last_activity_at = datetime.now(UTC)

    def heartbeat(self) -> Heartbeat:
        return Heartbeat(
            at=datetime.now(UTC),
            ready=self.ready,
            busy=self.busy,
            last_activity_at=self.last_activity_at,
            turns=self.turns,
            usage=self.usage,
            progress=self.progress,
            mcp=dict(self.mcp),
            policy_hash=self.policy_hash,
        )


@dataclass
class HeartbeatWriter:
    bus: SessionBus
    state: SessionState
    interval_seconds: float = 5.0
    ttl_seconds: int = 30
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False

    def poke(self) -> None:
        """Write soon: something the operator shows has changed."""
        self._wake.set()

    def stop(self) -> None:
        self.stopping = True
        self._wake.set()

    async def write(self) -> None:
        await self.bus.write_heartbeat(self.state.heartbeat().model_dump_json(), self.ttl_seconds)

    async def run(self) -> None:
        while not self.stopping:
            self._wake.clear()
            try:
                await self.write()
            except RedisError as e:
                log.warning("heartbeat_failed", error=str(e))
            try:
                async with asyncio.timeout(self.interval_seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass
