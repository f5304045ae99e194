"""Pod status building: phase rules, conditions and the exact status dict."""

from __future__ import annotations

import pytest

from cephalon_devkit.kubelet.status import (
    ContainerView,
    PodView,
    build_pod_status,
    pod_phase,
    qos_class,
    timestamp,
    unsupported_status,
    waiting,
)
from cephalon_devkit.kubelet.types import ContainerState, PodSpec

RUNNING: ContainerState = {"running": {"startedAt": "2026-11-22T00:00:01Z"}}
EXIT0: ContainerState = {"terminated": {"exitCode": 0, "reason": "Completed"}}
EXIT1: ContainerState = {"terminated": {"exitCode": 1, "reason": "Error"}}
CREATING = waiting("ContainerCreating")
BACKOFF = waiting("CrashLoopBackOff", "back-off 10s ...")


def view(state: ContainerState, last: ContainerState | None = None) -> ContainerView:
    return ContainerView("c", "img", state, last or {})


@pytest.mark.parametrize(
    ("policy", "init", "main", "phase"),
    [
        ("Always", [], [view(CREATING)], "Pending"),
        ("Always", [], [view(RUNNING)], "Running"),
        ("Always", [], [view(RUNNING), view(CREATING)], "Pending"),
        ("Always", [], [view(BACKOFF, EXIT1)], "Running"),
        ("Always", [], [view(EXIT0)], "Running"),
        ("OnFailure", [], [view(EXIT0), view(EXIT0)], "Succeeded"),
        ("OnFailure", [], [view(EXIT0), view(BACKOFF, EXIT1)], "Running"),
        ("Never", [], [view(EXIT0), view(EXIT1)], "Failed"),
        ("Never", [], [view(EXIT0), view(RUNNING)], "Running"),
        ("Never", [view(EXIT0)], [view(EXIT0)], "Succeeded"),
        ("Never", [view(EXIT1)], [view(CREATING)], "Failed"),
        ("Always", [view(EXIT1)], [view(CREATING)], "Pending"),
        ("Always", [view(RUNNING)], [view(CREATING)], "Pending"),
    ],
)
def test_pod_phase_follows_kubelet_rules(
    policy: str, init: list[ContainerView], main: list[ContainerView], phase: str
) -> None:
    assert pod_phase(policy, init, main) == phase


SPEC: PodSpec = {
    "containers": [
        {"name": "web", "image": "python:3.11"},
        {"name": "side", "image": "busybox"},
    ],
    "restartPolicy": "Always",
}


def test_running_not_ready_then_ready_keeps_transition_times() -> None:
    pod_view = PodView(
        init_containers=(),
        containers=(
            ContainerView(
                "web",
                "python:3.11",
                RUNNING,
                {},
                ready=True,
                started=True,
                container_id="local://7",
            ),
            ContainerView("side", "busybox", RUNNING, {}, ready=False, started=True),
        ),
        start_time="2026-11-22T00:00:00Z",
    )
    first = build_pod_status(SPEC, pod_view, {}, now="2026-11-22T00:00:02Z", pod_ip="127.0.0.1")
    assert first == {
        "phase": "Running",
        "conditions": [
            {
                "type": "Initialized",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": "2026-11-22T00:00:02Z",
            },
            {
                "type": "Ready",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": "2026-11-22T00:00:02Z",
                "reason": "ContainersNotReady",
                "message": "containers with unready status: [side]",
            },
            {
                "type": "ContainersReady",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": "2026-11-22T00:00:02Z",
                "reason": "ContainersNotReady",
                "message": "containers with unready status: [side]",
            },
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": "2026-11-22T00:00:02Z",
            },
        ],
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": "127.0.0.1",
        "podIPs": [{"ip": "127.0.0.1"}],
        "startTime": "2026-11-22T00:00:00Z",
        "qosClass": "BestEffort",
        "containerStatuses": [
            {
                "name": "web",
                "image": "python:3.11",
                "imageID": "",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": RUNNING,
                "lastState": {},
                "containerID": "local://7",
            },
            {
                "name": "side",
                "image": "busybox",
                "imageID": "",
                "ready": False,
                "started": True,
                "restartCount": 0,
                "state": RUNNING,
                "lastState": {},
            },
        ],
    }
    ready_view = PodView(
        (),
        tuple(
            ContainerView(c.name, c.image, c.state, {}, ready=True, started=True)
            for c in pod_view.containers
        ),
        "2026-11-22T00:00:00Z",
    )
    second = build_pod_status(
        SPEC, ready_view, first, now="2026-11-22T00:00:09Z", pod_ip="127.0.0.1"
    )
    times = {c["type"]: (c["status"], c["lastTransitionTime"]) for c in second["conditions"]}
    assert times == {
        "Initialized": ("True", "2026-11-22T00:00:02Z"),
        "Ready": ("True", "2026-11-22T00:00:09Z"),
        "ContainersReady": ("True", "2026-11-22T00:00:09Z"),
        "PodScheduled": ("True", "2026-11-22T00:00:02Z"),
    }
    assert all("reason" not in c for c in second["conditions"])


def test_foreign_conditions_are_kept_and_readiness_gates_respected() -> None:
    spec: PodSpec = {**SPEC, "readinessGates": [{"conditionType": "example.com/Gate"}]}
    gate = {"type": "example.com/Gate", "status": "False", "lastTransitionTime": "t0"}
    views = tuple(
        ContainerView(n, "i", RUNNING, {}, ready=True, started=True) for n in ("web", "side")
    )
    status = build_pod_status(
        spec, PodView((), views, "t"), {"conditions": [gate]}, now="t1", pod_ip="127.0.0.1"
    )
    by_type = {c["type"]: c for c in status["conditions"]}
    assert by_type["example.com/Gate"] == gate
    assert by_type["ContainersReady"]["status"] == "True"
    assert by_type["Ready"]["status"] == "False"
    assert by_type["Ready"]["reason"] == "ReadinessGatesNotReady"


def test_failure_overrides_phase_and_sets_reason() -> None:
    views = (ContainerView("web", "i", EXIT1, {}),)
    status = build_pod_status(
        {"containers": [{"name": "web"}], "restartPolicy": "Always"},
        PodView((), views, "t", failure=("DeadlineExceeded", "too long")),
        {},
        now="t1",
        pod_ip="127.0.0.1",
    )
    assert (status["phase"], status["reason"], status["message"]) == (
        "Failed",
        "DeadlineExceeded",
        "too long",
    )
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "PodFailed"


def test_init_containers_gate_initialized() -> None:
    status = build_pod_status(
        {"initContainers": [{"name": "clone"}], "containers": [{"name": "web"}]},
        PodView(
            (ContainerView("clone", "git", RUNNING, {}),),
            (ContainerView("web", "i", waiting("PodInitializing"), {}),),
            "t",
        ),
        {},
        now="t1",
        pod_ip="127.0.0.1",
    )
    assert status["phase"] == "Pending"
    initialized = status["conditions"][0]
    assert initialized == {
        "type": "Initialized",
        "status": "False",
        "lastProbeTime": None,
        "lastTransitionTime": "t1",
        "reason": "ContainersNotInitialized",
        "message": "containers with incomplete status: [clone]",
    }
    assert status["initContainerStatuses"][0]["name"] == "clone"


def test_unsupported_status() -> None:
    status = unsupported_status(
        {"containers": [{"name": "web", "image": "i"}]}, "volume x: hostPath", {}, now="t"
    )
    assert status["phase"] == "Failed"
    assert status["reason"] == "Unsupported"
    assert status["message"] == "volume x: hostPath"
    assert "podIP" not in status
    assert status["containerStatuses"][0]["state"] == {
        "waiting": {"reason": "Unsupported", "message": "volume x: hostPath"}
    }


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ([{}], "BestEffort"),
        ([{"requests": {"cpu": "1"}}], "Burstable"),
        ([{"limits": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),
        ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}], "Burstable"),
        ([{"limits": {"cpu": "1", "memory": "1Gi"}}, {}], "Burstable"),
    ],
)
def test_qos_class(resources: list[dict[str, dict[str, str]]], expected: str) -> None:
    assert (
        qos_class([{"name": f"c{i}", "resources": r} for i, r in enumerate(resources)]) == expected
    )


def test_timestamp_is_rfc3339_utc() -> None:
    assert timestamp(0) == "1970-01-01T00:00:00Z"


def test_a_deleted_pod_ends_in_a_terminal_phase() -> None:
    spec: PodSpec = {"containers": [{"name": "a"}, {"name": "b"}], "restartPolicy": "Always"}
    killed: ContainerState = {"terminated": {"exitCode": 143, "reason": "Error"}}

    def phase(*states: ContainerState) -> str:
        views = tuple(ContainerView(n, "i", st, {}) for n, st in zip("ab", states, strict=True))
        view = PodView((), views, "t", terminating=True)
        return build_pod_status(spec, view, {}, now="t", pod_ip="127.0.0.1")["phase"]

    assert phase(RUNNING, killed) == "Running"
    assert phase(EXIT0, killed) == "Failed"
    assert phase(EXIT0, EXIT0) == "Succeeded"
