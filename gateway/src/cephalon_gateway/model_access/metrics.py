"""Prometheus metrics of one gateway app (its own registry, nothing global).

Usage is labelled by tenant, session and model, so a dashboard can show who spends
what; the session label is bounded by the tenant's session count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "cephalon_model_requests",
            "Chat-completion requests by outcome (ok or an error code).",
            ["tenant", "model", "outcome"],
            registry=r,
        )
        self.tokens = Counter(
            "cephalon_model_tokens",
            "Tokens used, from the provider's usage numbers.",
            ["tenant", "session", "model", "direction"],
            registry=r,
        )
        self.upstream_attempts = Counter(
            "cephalon_model_upstream_attempts",
            "Calls to the provider by result (ok, retried, failed, rejected).",
            ["upstream", "result"],
            registry=r,
        )
        self.auth_failures = Counter(
            "cephalon_model_auth_failures",
            "Requests refused for a missing, unknown or revoked session token.",
            ["tenant"],
            registry=r,
        )
        self.ttfb = Histogram(
            "cephalon_model_time_to_first_byte_seconds",
            "From request to the first byte sent back (streams) or the answer.",
            ["tenant", "model"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.duration = Histogram(
            "cephalon_model_request_duration_seconds",
            "From request to the last byte sent back.",
            ["tenant", "model"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "cephalon_model_in_flight",
            "Completions this replica is serving now.",
            ["tenant"],
            registry=r,
        )
        self.circuit_open = Gauge(
            "cephalon_model_circuit_open",
            "1 while the circuit breaker of an upstream is open.",
            ["upstream"],
            registry=r,
        )
