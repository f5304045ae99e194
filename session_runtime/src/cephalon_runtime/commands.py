"""Chat commands the runtime answers itself, without the model.

- ``/model`` shows the model; ``/model <name>`` switches it from the next turn (the
  tenant's allowlist applies: ``PROVIDER_MODEL_NOT_ALLOWED``);
- ``/mcp`` probes every MCP server and lists health, circuit state, tools and risk;
- ``/policy reload`` reloads policy, keeping the last good snapshot on errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from cephalon_contracts.events import ErrorEvent, Final, FinalStatus

from .engine.base import EngineSession
from .errors import ModelNotAllowedError
from .heartbeat import HeartbeatWriter, SessionState
from .mcp_servers import McpSupervisor
from .metrics import RuntimeMetrics
from .policy import PolicyManager
from .settings import RuntimeSettings

log = structlog.get_logger("cephalon_runtime.commands")


@dataclass
class Commands:
    settings: RuntimeSettings
    engine: EngineSession
    policy: PolicyManager
    mcp: McpSupervisor
    state: SessionState
    heartbeat: HeartbeatWriter
    metrics: RuntimeMetrics
    model: str = ""
    policy_notice: bool = False
    """The policy changed since the engine's session was created: tell the model."""

    def __post_init__(self) -> None:
        self.model = self.model or self.settings.model.default

    async def switch_model(self, model: str) -> None:
        allowed = self.settings.model.allowed
        if model not in allowed:
            raise ModelNotAllowedError(model, allowed)
        await self.engine.set_model(model)
        self.model = model
        log.info("model_switched", model=model)

    async def run(self, text: str, trace_id: str) -> Final | ErrorEvent | None:
        name, _, argument = text.partition(" ")
        argument = argument.strip()
        if name == "/model":
            if not argument:
                allowed = ", ".join(self.settings.model.allowed)
                return Final(
                    status=FinalStatus.COMPLETED, text=f"Model: {self.model} (allowed: {allowed})"
                )
            await self.switch_model(argument)
            return Final(
                status=FinalStatus.COMPLETED,
                text=f"Model switched to {argument} from the next turn.",
            )
        if name == "/mcp":
            await self.mcp.probe_all()
            self.state.mcp = self.mcp.health()
            return Final(status=FinalStatus.COMPLETED, text=self.mcp_listing())
        if name == "/policy" and argument == "reload":
            return await self.reload_policy(trace_id)
        return None

    def mcp_listing(self) -> str:
        reports = self.mcp.reports()
        if not reports:
            return "No MCP servers in this session."
        lines = []
        for r in reports:
            status = (
                "healthy" if r.healthy and r.circuit == "closed" else f"unhealthy ({r.circuit})"
            )
            lines.append(f"- {r.name} {r.url}: {status}")
            for tool in r.tools:
                lines.append(
                    f"  - {r.name}-{tool} [{self.policy.risk_of(f'{r.name}-{tool}').value}]"
                )
            if r.last_error:
                lines.append(f"  last error: {r.last_error}")
        return "\n".join(lines)

    async def reload_policy(self, trace_id: str) -> Final | ErrorEvent:
        result = self.policy.reload()
        self.metrics.policy_reloads.labels("ok" if result.ok else "error").inc()
        snapshot = self.policy.snapshot
        self.state.policy_hash = snapshot.hash
        self.heartbeat.poke()
        if result.changed and result.ok:
            self.policy_notice = True
        if not result.ok:
            first = result.errors[0]
            envelope = first.to_envelope(trace_id)
            listing = "; ".join(e.message for e in result.errors)
            return ErrorEvent(
                error=envelope.model_copy(
                    update={
                        "message": (
                            f"policy not reloaded, still using {snapshot.hash[:19]}: {listing}"
                        )[:2000],
                        "details": {**envelope.details, "count": len(result.errors)},
                    }
                )
            )
        word = "changed" if result.changed else "unchanged"
        return Final(
            status=FinalStatus.COMPLETED, text=f"Policy reloaded ({word}): {snapshot.hash}"
        )
