"""Prometheus metrics of one runtime, in their own registry (served on ``/metrics``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class RuntimeMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.turns = Counter(
            "cephalon_runtime_turns", "Turns finished, by outcome", ["outcome"], registry=r
        )
        self.turn_seconds = Histogram(
            "cephalon_runtime_turn_seconds",
            "Turn wall-clock time",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
            registry=r,
        )
        self.first_delta_seconds = Histogram(
            "cephalon_runtime_first_delta_seconds",
            "Time from turn start to the first response delta",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.events = Counter(
            "cephalon_runtime_events", "Stream events published, by type", ["type"], registry=r
        )
        self.tool_calls = Counter(
            "cephalon_runtime_tool_calls", "Tool calls, by risk and decision",
            ["risk", "decision"], registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            "cephalon_runtime_tokens", "Tokens reported by the model", ["kind"], registry=r
        )
        self.mcp_up = Gauge(
            "cephalon_runtime_mcp_up", "MCP server healthy (1) or not (0)", ["server"], registry=r
        )
        self.mcp_circuit_open = Gauge(
            "cephalon_runtime_mcp_circuit_open", "MCP circuit open (1)", ["server"], registry=r
        )
        self.policy_reloads = Counter(
            "cephalon_runtime_policy_reloads", "Policy reloads, by result", ["result"], registry=r
        )
        self.busy = Gauge("cephalon_runtime_busy", "A turn is running", registry=r)
