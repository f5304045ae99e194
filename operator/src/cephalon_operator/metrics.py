"""Prometheus metrics of the operator, in a registry of their own (made at start-up)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.reconciles = Counter(
            "cephalon_operator_reconciles_total", "Reconciles by kind and result.",
            ["kind", "result"], registry=self.registry,
        )  # fmt: skip
        self.status_writes = Counter(
            "cephalon_operator_status_writes_total", "Status patches written, by kind.",
            ["kind"], registry=self.registry,
        )  # fmt: skip
        self.sessions = Gauge(
            "cephalon_operator_sessions", "AgentSessions by tenant and phase.",
            ["provider", "tenant", "phase"], registry=self.registry,
        )  # fmt: skip
        self.pod_start = Histogram(
            "cephalon_operator_session_ready_seconds", "AgentSession creation to Ready.",
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300), registry=self.registry,
        )  # fmt: skip
