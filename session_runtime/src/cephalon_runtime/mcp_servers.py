"""The session's MCP servers: health probes, tool lists, circuit breakers, direct calls.

The Copilot CLI talks to the servers itself (they are passed to the SDK session as MCP
server configs); the runtime *also* connects with the ``mcp`` client, so that:

- ``/mcp`` can list every server, its tools and their health (``tools/list``);
- each server has a :class:`CircuitBreaker`: repeated failures (probes, or tool calls
  the CLI reports as failed) open it, tool calls to that server are then refused with
  ``MCP_CIRCUIT_OPEN`` naming server and tool, and after ``reset_seconds`` one
  half-open probe decides whether it closes again;
- the runtime's own calls (:meth:`McpSupervisor.call_tool`) have per-tool timeouts.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import structlog
from mcp import Client
from mcp.shared.exceptions import MCPError as McpProtocolError

from .errors import (
    McpCircuitOpenError,
    McpError,
    McpServerUnavailableError,
    McpToolFailedError,
    McpToolNotFoundError,
    McpToolTimeoutError,
)
from .settings import McpServerSetting, McpSettings

log = structlog.get_logger("cephalon_runtime.mcp")


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    """Closed → open after ``threshold`` consecutive failures; open → half-open after
    ``reset_seconds``; half-open lets one trial through: success closes, failure re-opens."""

    threshold: int = 3
    reset_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    trial_running: bool = False

    @property
    def state(self) -> CircuitState:
        if self.opened_at is None:
            return CircuitState.CLOSED
        if self.clock() - self.opened_at >= self.reset_seconds:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def allow(self) -> bool:
        """Whether a call may go through now (claims the half-open trial if it is free)."""
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.HALF_OPEN and not self.trial_running:
            self.trial_running = True
            return True
        return False

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.trial_running = False

    def record_failure(self) -> None:
        self.trial_running = False
        self.failures += 1
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = self.clock()


@dataclass
class ServerState:
    setting: McpServerSetting
    breaker: CircuitBreaker
    tools: tuple[str, ...] = ()
    healthy: bool = False
    last_error: str = ""
    checked_at: float | None = None


@dataclass(frozen=True)
class ServerReport:
    """What ``/mcp`` shows for one server."""

    name: str
    url: str
    healthy: bool
    circuit: CircuitState
    tools: tuple[str, ...]
    last_error: str


@dataclass
class McpSupervisor:
    settings: McpSettings
    clock: Callable[[], float] = time.monotonic
    on_change: Callable[[], None] = lambda: None
    servers: dict[str, ServerState] = field(default_factory=dict)
    stopping: bool = False

    def __post_init__(self) -> None:
        for s in self.settings.servers:
            self.servers[s.name] = ServerState(
                setting=s,
                breaker=CircuitBreaker(
                    self.settings.failure_threshold, self.settings.reset_seconds, self.clock
                ),
            )

    # -------------------------------------------------------------- naming

    def split_tool(self, tool: str) -> tuple[str, str] | None:
        """``<server>-<tool>`` → (server, tool) for a known server (longest name wins)."""
        for name in sorted(self.servers, key=len, reverse=True):
            if tool.startswith(f"{name}-"):
                return name, tool[len(name) + 1 :]
        return None

    def timeout_for(self, server: str, tool: str) -> float:
        t = self.settings.tool_timeouts
        default = t.get(server, self.settings.tool_timeout_seconds)
        return t.get(f"{server}-{tool}", default)

    def server_timeout_ms(self, server: str) -> int:
        """The longest per-tool timeout of a server, for the CLI's per-server setting."""
        timeouts = self.settings.tool_timeouts
        values = [
            v
            for k, v in timeouts.items()
            if k not in self.servers and (self.split_tool(k) or ("",))[0] == server
        ]
        values.append(timeouts.get(server, self.settings.tool_timeout_seconds))
        return int(max(values) * 1000)

    def sdk_configs(self) -> dict[str, dict[str, object]]:
        """The servers as Copilot SDK MCP server configs (streamable HTTP)."""
        return {
            name: {
                "type": "http",
                "url": state.setting.url,
                "tools": ["*"],
                "timeout": self.server_timeout_ms(name),
            }
            for name, state in self.servers.items()
        }

    # -------------------------------------------------------------- health

    def health(self) -> dict[str, bool]:
        return {
            name: s.healthy and s.breaker.state is CircuitState.CLOSED
            for name, s in self.servers.items()
        }

    def reports(self) -> list[ServerReport]:
        return [
            ServerReport(
                name=name,
                url=s.setting.url,
                healthy=s.healthy,
                circuit=s.breaker.state,
                tools=s.tools,
                last_error=s.last_error,
            )
            for name, s in sorted(self.servers.items())
        ]

    def gate(self, server: str, tool: str) -> McpError | None:
        """Refuse a call to ``server`` while its circuit is open."""
        state = self.servers.get(server)
        if state is None:
            return None
        if state.breaker.state is CircuitState.CLOSED:
            return None
        return McpCircuitOpenError(server, tool, state.last_error)

    def record(self, server: str, ok: bool, error: str = "") -> None:
        """Feed the outcome of a call made by anyone (the CLI or us) to the breaker."""
        state = self.servers.get(server)
        if state is None:
            return
        before = self.health()
        if ok:
            state.breaker.record_success()
        else:
            state.last_error = error[:300]
            state.breaker.record_failure()
            if state.breaker.state is not CircuitState.CLOSED:
                state.healthy = False
        if before != self.health():
            log.info("mcp_health_changed", server=server, health=self.health()[server])
            self.on_change()

    async def probe(self, name: str, *, count: bool = True) -> None:
        """``tools/list`` on one server; updates its health and tools, and (with
        ``count``) its breaker — an open circuit is only probed once it is half-open."""
        state = self.servers[name]
        breaker = state.breaker
        if count and not breaker.allow():
            return
        before = self.health()
        try:
            async with asyncio.timeout(self.settings.probe_timeout_seconds):
                async with Client(state.setting.url, mode="legacy") as client:
                    listed = await client.list_tools()
        except (Exception, TimeoutError) as e:  # any failure means "not healthy"
            state.healthy = False
            state.last_error = _describe(e)
            if count:
                breaker.record_failure()
        else:
            state.tools = tuple(sorted(t.name for t in listed.tools))
            state.healthy = True
            state.last_error = ""
            if count:
                breaker.record_success()
        state.checked_at = self.clock()
        if before != self.health():
            log.info("mcp_health_changed", server=name, health=self.health()[name])
            self.on_change()

    async def wait_until_healthy(self, timeout: float) -> None:
        """At start-up: sidecars start alongside the runtime, and the CLI loads a
        server's tools only when its session is created, so wait (up to ``timeout``)
        until every server answers. These probes do not count against the circuits."""
        deadline = self.clock() + timeout
        while True:
            waiting = [name for name, s in self.servers.items() if not s.healthy]
            if not waiting or self.clock() >= deadline:
                return
            await asyncio.gather(*(self.probe(name, count=False) for name in waiting))
            if any(not self.servers[name].healthy for name in waiting):
                await asyncio.sleep(0.2)

    async def probe_all(self) -> None:
        await asyncio.gather(*(self.probe(name) for name in self.servers))

    async def run_probes(self) -> None:
        """Probe every server every ``probe_interval_seconds`` until stopped."""
        while not self.stopping:
            await self.probe_all()
            await asyncio.sleep(self.settings.probe_interval_seconds)

    # -------------------------------------------------------------- calls

    async def call_tool(self, server: str, tool: str, arguments: dict[str, object]) -> str:
        """Call one tool directly, with its timeout and the server's breaker."""
        state = self.servers.get(server)
        if state is None:
            raise McpServerUnavailableError(server, tool, "no such server in this session")
        if not state.breaker.allow():
            raise McpCircuitOpenError(server, tool, state.last_error)
        try:
            async with asyncio.timeout(self.timeout_for(server, tool)):
                async with Client(state.setting.url, mode="legacy") as client:
                    result = await client.call_tool(tool, arguments)
        except TimeoutError as e:
            self.record(server, False, "timeout")
            raise McpToolTimeoutError(
                server, tool, f"after {self.timeout_for(server, tool):g} s"
            ) from e
        except McpProtocolError as e:
            self.record(server, True)
            if "unknown tool" in str(e).lower() or "not found" in str(e).lower():
                raise McpToolNotFoundError(server, tool) from e
            raise McpToolFailedError(server, tool, str(e)[:300]) from e
        except Exception as e:
            self.record(server, False, _describe(e))
            raise McpServerUnavailableError(server, tool, _describe(e)) from e
        self.record(server, True)
        text = "\n".join(getattr(c, "text", "") for c in result.content)
        if result.is_error:
            if "unknown tool" in text.lower():
                raise McpToolNotFoundError(server, tool)
            raise McpToolFailedError(server, tool, text[:300])
        return text


_OUTAGE = re.compile(
    r"econnrefused|econnreset|connect|timed? ?out|timeout|unavailable|unreachable|fetch failed"
    r"|socket|network|\b50[234]\b|not connected|closed",
    re.IGNORECASE,
)


def looks_like_outage(error: str) -> bool:
    """Whether a failed tool call's error text says the server could not be reached
    (which counts against its circuit), rather than that the tool itself failed."""
    return bool(_OUTAGE.search(error))


def _describe(e: BaseException) -> str:
    """A short, safe description of a connection failure (exception groups unwrapped)."""
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    text = str(e) or type(e).__name__
    return f"{type(e).__name__}: {text}"[:300]
