"""Prometheus metrics of the Discord gateway, on a registry of their own (one per
process, made at start-up), served at ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.interactions = Counter(
            "cephalon_discord_interactions_total",
            "Interactions received, by type and outcome.",
            ["type", "outcome"],
            registry=r,
        )
        self.signature_failures = Counter(
            "cephalon_discord_signature_failures_total",
            "Interactions refused with 401 because the signature did not verify.",
            registry=r,
        )
        self.ack_seconds = Histogram(
            "cephalon_discord_ack_seconds",
            "Time from request to interaction ACK.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3),
            registry=r,
        )
        self.discord_requests = Counter(
            "cephalon_discord_requests_total",
            "Discord REST responses, by method and status.",
            ["method", "status"],
            registry=r,
        )
        self.discord_429 = Counter(
            "cephalon_discord_429_total",
            "429 responses from Discord, by scope.",
            ["scope"],
            registry=r,
        )
        self.render_failures = Counter(
            "cephalon_discord_render_failures_total",
            "Render steps that failed and will be retried, by event type.",
            ["event"],
            registry=r,
        )
        self.dead_letters = Counter(
            "cephalon_discord_dead_letters_total",
            "Render or post work given up after permanent failures (kept in a dead-letter stream).",
            ["kind"],
            registry=r,
        )
        self.events_rendered = Counter(
            "cephalon_discord_events_rendered_total",
            "Stream events rendered into Discord, by type.",
            ["event"],
            registry=r,
        )
        self.messages_ingested = Counter(
            "cephalon_discord_messages_ingested_total",
            "Messages seen in session channels, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.sessions_started = Counter(
            "cephalon_discord_sessions_started_total",
            "Start Chat outcomes.",
            ["outcome"],
            registry=r,
        )
        self.active_renderers = Gauge(
            "cephalon_discord_active_renderers",
            "Sessions this replica renders right now.",
            registry=r,
        )
