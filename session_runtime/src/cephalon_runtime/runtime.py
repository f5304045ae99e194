"""Composition: one :class:`SessionRuntime` wires settings, Redis, policy, MCP, the engine
and the turn loop together, and owns their background tasks."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import redis.asyncio as aioredis
import structlog

from cephalon_contracts.envelope import new_trace_id
from cephalon_contracts.events import ErrorEvent

from .approvals import ApprovalBroker, GateDecision
from .bus import SessionBus, SessionKeys
from .engine.base import Engine, SessionConfig
from .engine.copilot import CopilotEngine
from .errors import ConfigurationError
from .health import HealthServer
from .heartbeat import HeartbeatWriter, SessionState
from .mcp_servers import McpSupervisor
from .metrics import RuntimeMetrics
from .policy import PolicyManager
from .settings import RuntimeSettings, read_secret_file
from .turns import TurnLoop

log = structlog.get_logger("cephalon_runtime")

#: How long stopping waits for the background tasks to end.
STOP_TIMEOUT_SECONDS = 10.0


def redis_client(settings: RuntimeSettings, *, decode: bool) -> aioredis.Redis:
    """A client authenticated as the session's ACL user (credentials from files)."""
    try:
        username = read_secret_file(settings.redis.username_file)
        password = read_secret_file(settings.redis.password_file)
    except OSError as e:
        raise ConfigurationError(f"cannot read the Redis credential files: {e.strerror}") from e
    return aioredis.Redis.from_url(
        settings.redis.url,
        username=username,
        password=password,
        decode_responses=decode,
    )


def copilot_engine(settings: RuntimeSettings) -> CopilotEngine:
    try:
        token = read_secret_file(settings.model.token_file) or ""
    except OSError as e:
        raise ConfigurationError(f"cannot read the model token file: {e.strerror}") from e
    return CopilotEngine(
        cli_path=settings.copilot.cli_path,
        base_url=settings.model.base_url,
        token=token,
        default_model=settings.model.default,
        provider_type=settings.model.provider_type,
        home=settings.copilot.home,
    )


class SessionRuntime:
    def __init__(self, settings: RuntimeSettings, *, engine: Engine | None = None) -> None:
        self.settings = settings
        self.metrics = RuntimeMetrics()
        self.state = SessionState()
        self.broker = ApprovalBroker()
        self.engine: Engine = engine if engine is not None else copilot_engine(settings)
        self.redis = redis_client(settings, decode=True)
        self.blobs = redis_client(settings, decode=False)
        s = settings.session
        self.bus = SessionBus(
            self.redis,
            SessionKeys(s.provider, s.tenant, s.id, settings.topic_root),
            settings.consumer,
        )
        self.heartbeat = HeartbeatWriter(
            self.bus,
            self.state,
            settings.heartbeat.interval_seconds,
            settings.heartbeat.ttl_seconds,
        )
        self.policy = PolicyManager(settings)
        self.mcp = McpSupervisor(settings.mcp, on_change=self._mcp_changed)
        self.health = HealthServer(
            ready=lambda: self.ready,
            registry=self.metrics.registry,
            host=settings.health_host,
            port=settings.health_port,
        )
        self.loop: TurnLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.failed = asyncio.Event()
        """Set when a part the runtime cannot work without died (the engine, Redis):
        the process then exits non-zero and the pod restarts the container."""

    @property
    def ready(self) -> bool:
        return self.state.ready

    def _mcp_changed(self) -> None:
        self.state.mcp = self.mcp.health()
        for name, up in self.state.mcp.items():
            self.metrics.mcp_up.labels(name).set(1 if up else 0)
            self.metrics.mcp_circuit_open.labels(name).set(
                0 if self.mcp.servers[name].breaker.state == "closed" else 1
            )
        self.heartbeat.poke()

    async def _gate(self, tool: str, arguments: Any, call_id: str) -> GateDecision:
        assert self.loop is not None
        return await self.loop.decide(tool, arguments, call_id)

    async def start(self) -> None:
        structlog.contextvars.bind_contextvars(session_id=self.settings.session.id)
        await self.health.start()
        await self.redis.ping()
        result = self.policy.reload()
        self.state.policy_hash = self.policy.snapshot.hash
        self.state.mcp = {name: False for name in self.mcp.servers}
        self.state.touch()
        self._tasks.append(asyncio.create_task(self.heartbeat.run(), name="heartbeat"))
        await self.mcp.wait_until_healthy(self.settings.mcp.startup_wait_seconds)
        await self.mcp.probe_all()
        self._mcp_changed()
        await self.engine.start()
        self.settings.workspace.path.mkdir(parents=True, exist_ok=True)
        session = await self.engine.open_session(
            SessionConfig(
                model=self.settings.model.default,
                system_message=self.policy.system_message(),
                working_directory=str(self.settings.workspace.path),
                gate=self._gate,
                mcp_servers=self.mcp.sdk_configs(),
                skill_directories=[str(self.policy.skills_dir)],
            )
        )
        self.loop = TurnLoop(
            settings=self.settings,
            bus=self.bus,
            blobs=self.blobs,
            engine=session,
            policy=self.policy,
            mcp=self.mcp,
            broker=self.broker,
            state=self.state,
            heartbeat=self.heartbeat,
            metrics=self.metrics,
        )
        for error in result.errors:
            await self.loop.publish_session_error(error.error_code, error.message, error.details)
        await self.bus.ensure_group()
        await self.bus.start_control()
        self._spawn(self.loop.run_control(), "control")
        self._spawn(self.loop.run(), "turns")
        self._spawn(self.mcp.run_probes(), "mcp-probes")
        self._spawn(self._watch_policy(), "policy-watch")
        while not self.loop.consuming:
            await asyncio.sleep(0.01)
        self.state.ready = True
        await self.heartbeat.write()
        log.info("runtime_ready", health_port=self.health.port)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("runtime_task_failed", task=task.get_name(), error=repr(task.exception()))
            self.state.ready = False
            self.failed.set()

    async def _watch_policy(self) -> None:
        assert self.loop is not None
        while not self.loop.stopping:
            await asyncio.sleep(self.settings.policy.watch_interval_seconds)
            if self.policy.tenant_changed():
                log.info("tenant_policy_changed")
                outcome = await self.loop.commands.reload_policy(new_trace_id())
                if isinstance(outcome, ErrorEvent):
                    await self.loop.publish_session_error(
                        outcome.error.error_code, outcome.error.message
                    )

    async def stop(self) -> None:
        self.state.ready = False
        self.broker.deny_all(self.loop.system_urn if self.loop else "", "the runtime is stopping")
        if self.loop is not None:
            self.loop.stopping = True
        self.heartbeat.stop()
        self.mcp.stopping = True
        for task in reversed(self._tasks):
            task.cancel()
        done, pending = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_SECONDS)
        for task in pending:  # should never happen; say which part would not stop
            log.error(
                "runtime_task_would_not_stop", task=task.get_name(), stack=repr(task.get_stack())
            )
        for task in done:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
        self._tasks.clear()
        with contextlib.suppress(Exception):
            await self.bus.write_heartbeat(self.state.heartbeat().model_dump_json(), 5)
        await self.engine.stop()
        await self.health.stop()
        self.policy.close()
        await self.redis.aclose()
        await self.blobs.aclose()

    async def serve(self, stop: asyncio.Event) -> bool:
        """Start, run until ``stop`` is set (or a vital part fails), stop.

        Returns whether the runtime ended cleanly.
        """
        try:
            await self.start()
            stopped = asyncio.create_task(stop.wait())
            failed = asyncio.create_task(self.failed.wait())
            await asyncio.wait({stopped, failed}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            failed.cancel()
            return not self.failed.is_set()
        finally:
            await self.stop()
