"""observed_status: the pure step from what exists to what the status says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cephalon_contracts.events import Usage
from cephalon_contracts.heartbeat import Heartbeat, TurnProgress
from cephalon_contracts.resources import AgentSessionSpec, ProviderTenantSpec
from cephalon_operator.sessions import Observation, observed_status

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
SPEC = AgentSessionSpec.model_validate(
    {
        "provider": "discord",
        "tenant": "duck",
        "owner": {"id": "1", "name": "a"},
        "conversation": {"channel": "2"},
        "lifecycle": {"idleTimeout": "10m"},
    }
)
TENANT = ProviderTenantSpec.model_validate(
    {
        "provider": "discord",
        "tenant": "duck",
        "credentialsSecretRef": {"name": "c"},
        "models": {"default": "m"},
    }
)
READY_POD: dict[str, Any] = {
    "status": {
        "conditions": [{"type": "PodScheduled", "status": "True"}],
        "containerStatuses": [{"name": "runtime", "ready": True}],
    }
}


def beat(**fields: Any) -> Heartbeat:
    values: dict[str, Any] = {"at": NOW, "ready": True, "last_activity_at": NOW} | fields
    return Heartbeat(**values)


def seen(
    heartbeat: Heartbeat | None, pod: Any = READY_POD, metered: Usage | None = None
) -> Observation:
    return Observation(pod, heartbeat, metered, NOW)


def test_ready_pod_and_fresh_heartbeat_make_the_session_ready() -> None:
    update, idle = observed_status(SPEC, TENANT, {"phase": "Provisioning"}, seen(beat()), 30)
    assert update["phase"] == "Ready" and not idle
    assert {c["type"]: c["status"] for c in update["conditions"]} == {
        "PodScheduled": "True",
        "RuntimeReady": "True",
        "McpReady": "True",
        "Ready": "True",
    }


def test_a_stale_heartbeat_is_not_ready() -> None:
    old = beat(at=NOW - timedelta(seconds=31))
    update, _ = observed_status(SPEC, TENANT, {"phase": "Provisioning"}, seen(old), 30)
    assert "phase" not in update
    runtime = next(c for c in update["conditions"] if c["type"] == "RuntimeReady")
    assert runtime["status"] == "False" and runtime["reason"] == "NoHeartbeat"


def test_busy_runtime_means_running_and_progress_is_copied() -> None:
    progress = TurnProgress(turn=2, step="testing", message="Running pytest")
    update, _ = observed_status(
        SPEC, TENANT, {"phase": "Ready"}, seen(beat(busy=True, progress=progress)), 30
    )
    assert update["phase"] == "Running"
    assert update["progress"] == {
        "turn": 2,
        "step": "testing",
        "message": "Running pytest",
        "updatedAt": "2026-11-22T12:00:00Z",
    }


def test_nothing_changed_writes_nothing() -> None:
    first, _ = observed_status(SPEC, TENANT, {"phase": "Provisioning"}, seen(beat()), 30)
    status = {"phase": "Provisioning", **first}
    second, _ = observed_status(SPEC, TENANT, status, seen(beat()), 30)
    assert second == {}


def test_metered_usage_wins_over_the_runtimes_own_count() -> None:
    own = beat(usage=Usage(input_tokens=1, output_tokens=1))
    metered = Usage(input_tokens=900, output_tokens=100)
    update, _ = observed_status(SPEC, TENANT, {"phase": "Ready"}, seen(own, metered=metered), 30)
    assert update["usage"] == {"inputTokens": 900, "outputTokens": 100, "totalTokens": 1000}


def test_idle_half_the_timeout_shows_idle_and_the_full_timeout_suspends() -> None:
    half = beat(last_activity_at=NOW - timedelta(minutes=6))
    update, idle = observed_status(SPEC, TENANT, {"phase": "Ready"}, seen(half), 30)
    assert update["phase"] == "Idle" and not idle
    full = beat(last_activity_at=NOW - timedelta(minutes=11))
    _, idle = observed_status(SPEC, TENANT, {"phase": "Idle"}, seen(full), 30)
    assert idle


def test_a_busy_session_is_never_suspended_for_idleness() -> None:
    long_turn = beat(busy=True, last_activity_at=NOW - timedelta(hours=1))
    _, idle = observed_status(SPEC, TENANT, {"phase": "Running"}, seen(long_turn), 30)
    assert not idle


def test_an_mcp_server_down_is_named() -> None:
    update, _ = observed_status(
        SPEC, TENANT, {"phase": "Ready"}, seen(beat(mcp={"git": False, "web": True})), 30
    )
    mcp = next(c for c in update["conditions"] if c["type"] == "McpReady")
    assert (mcp["status"], mcp["message"]) == ("False", "Not answering: git.")
    ready = next(c for c in update["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
