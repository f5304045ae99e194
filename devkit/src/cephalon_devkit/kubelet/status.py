"""Pod status as the kubelet reports it: pure builders.

``build_pod_status`` turns what the executor knows about a pod's containers into the
``status`` written through the ``/status`` subresource: ``phase`` (the kubelet's
``getPhase`` rules), the conditions ``Initialized``, ``Ready``, ``ContainersReady`` and
``PodScheduled`` (a condition keeps its ``lastTransitionTime`` while its status does not
change), ``hostIP``/``podIP``, ``startTime``, ``qosClass`` and container statuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cephalon_devkit.kubelet.types import (
    Container,
    ContainerState,
    ContainerStatus,
    PodCondition,
    PodPhase,
    PodSpec,
    PodStatus,
)

OWN_CONDITIONS = ("Initialized", "Ready", "ContainersReady", "PodScheduled")


def timestamp(when: float) -> str:
    """RFC 3339 with seconds, as the API server stores times (``2026-11-22T02:00:00Z``)."""
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ContainerView:
    """What the executor knows about one container at one moment."""

    name: str
    image: str
    state: ContainerState
    last_state: ContainerState
    ready: bool = False
    started: bool = False
    restart_count: int = 0
    container_id: str = ""


def waiting(reason: str, message: str = "") -> ContainerState:
    state: ContainerState = {"waiting": {"reason": reason}}
    if message:
        state["waiting"]["message"] = message
    return state


def container_status(view: ContainerView) -> ContainerStatus:
    status: ContainerStatus = {
        "name": view.name,
        "image": view.image,
        "imageID": "",
        "ready": view.ready,
        "started": view.started,
        "restartCount": view.restart_count,
        "state": view.state,
        "lastState": view.last_state,
    }
    if view.container_id:
        status["containerID"] = view.container_id
    return status


def _exited(view: ContainerView) -> bool:
    return "terminated" in view.state or (
        "waiting" in view.state and "terminated" in view.last_state
    )


def _exit_code(view: ContainerView) -> int:
    terminated = view.state.get("terminated") or view.last_state.get("terminated") or {}
    return terminated.get("exitCode", -1)


def initialized(init_views: Sequence[ContainerView]) -> bool:
    return all(
        "terminated" in view.state and view.state["terminated"].get("exitCode") == 0
        for view in init_views
    )


def pod_phase(
    restart_policy: str,
    init_views: Sequence[ContainerView],
    views: Sequence[ContainerView],
) -> PodPhase:
    """The kubelet's ``getPhase``."""
    if not initialized(init_views):
        failed_init = any(
            "terminated" in view.state and view.state["terminated"].get("exitCode") != 0
            for view in init_views
        )
        if failed_init and restart_policy == "Never":
            return "Failed"
        return "Pending"
    running = sum(1 for view in views if "running" in view.state)
    stopped = sum(1 for view in views if _exited(view))
    succeeded = sum(1 for view in views if _exited(view) and _exit_code(view) == 0)
    waiting_count = len(views) - running - stopped
    if waiting_count > 0:
        return "Pending"
    if running > 0:
        return "Running"
    if stopped > 0:
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def qos_class(containers: Sequence[Container]) -> str:
    """``Guaranteed`` / ``Burstable`` / ``BestEffort`` from the containers' resources."""
    requests_any = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources", {})
        requests = dict(resources.get("requests", {}) or {})
        limits = dict(resources.get("limits", {}) or {})
        if requests or limits:
            requests_any = True
        for resource in ("cpu", "memory"):
            limit = limits.get(resource)
            if limit is None or requests.get(resource, limit) != limit:
                guaranteed = False
    if not requests_any:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _condition(
    kind: str,
    ok: bool,
    previous: Sequence[PodCondition],
    now: str,
    reason: str = "",
    message: str = "",
) -> PodCondition:
    status: PodCondition = {
        "type": kind,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": now,
    }
    for old in previous:
        if old.get("type") == kind and old.get("status") == status["status"]:
            status["lastTransitionTime"] = old.get("lastTransitionTime", now)
    if not ok and reason:
        status["reason"] = reason
    if not ok and message:
        status["message"] = message
    return status


@dataclass(frozen=True)
class PodView:
    """What the executor knows about one pod at one moment."""

    init_containers: tuple[ContainerView, ...]
    containers: tuple[ContainerView, ...]
    start_time: str
    failure: tuple[str, str] | None = None  # (reason, message) ending the pod as Failed
    terminating: bool = False  # being deleted: nothing restarts any more


def build_pod_status(
    spec: PodSpec,
    view: PodView,
    previous: PodStatus,
    *,
    now: str,
    pod_ip: str,
    host_ip: str = "",
) -> PodStatus:
    """The full ``status`` to write for a pod."""
    # Since Kubernetes 1.27 a deleted pod ends in a terminal phase whatever its
    # restartPolicy: once its containers stopped it is Succeeded or Failed.
    restart_policy = "Never" if view.terminating else spec.get("restartPolicy", "Always")
    phase: PodPhase = (
        "Failed"
        if view.failure is not None
        else pod_phase(restart_policy, view.init_containers, view.containers)
    )
    old_conditions = previous.get("conditions", [])
    is_initialized = initialized(view.init_containers)
    incomplete = [c.name for c in view.init_containers if not initialized([c])]
    unready = [c.name for c in view.containers if not c.ready]
    ready = not unready and phase == "Running"
    if phase == "Succeeded":
        not_ready_reason, not_ready_message = "PodCompleted", ""
    elif phase == "Failed":
        not_ready_reason, not_ready_message = "PodFailed", ""
    else:
        not_ready_reason = "ContainersNotReady"
        not_ready_message = f"containers with unready status: [{' '.join(unready)}]"
    gates = [gate.get("conditionType", "") for gate in spec.get("readinessGates", []) if gate]
    gates_ok = all(
        any(c.get("type") == gate and c.get("status") == "True" for c in old_conditions)
        for gate in gates
    )
    conditions: list[PodCondition] = [
        _condition(
            "Initialized",
            is_initialized,
            old_conditions,
            now,
            "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(incomplete)}]",
        ),
        _condition(
            "Ready",
            ready and gates_ok,
            old_conditions,
            now,
            not_ready_reason if not ready else "ReadinessGatesNotReady",
            not_ready_message if not ready else "",
        ),
        _condition(
            "ContainersReady", ready, old_conditions, now, not_ready_reason, not_ready_message
        ),
        _condition("PodScheduled", True, old_conditions, now),
    ]
    conditions.extend(c for c in old_conditions if c.get("type") not in OWN_CONDITIONS)
    status: PodStatus = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip or pod_ip,
        "hostIPs": [{"ip": host_ip or pod_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": view.start_time,
        "qosClass": qos_class([*spec.get("initContainers", []), *spec.get("containers", [])]),
        "containerStatuses": [container_status(c) for c in view.containers],
    }
    if view.init_containers:
        status["initContainerStatuses"] = [container_status(c) for c in view.init_containers]
    if view.failure is not None:
        status["reason"], status["message"] = view.failure
    return status


def unsupported_status(spec: PodSpec, message: str, previous: PodStatus, *, now: str) -> PodStatus:
    """The status of a pod the executor refuses to run."""
    views = tuple(
        ContainerView(c.get("name", ""), c.get("image", ""), waiting("Unsupported", message), {})
        for c in spec.get("containers", [])
    )
    init_views = tuple(
        ContainerView(c.get("name", ""), c.get("image", ""), waiting("Unsupported", message), {})
        for c in spec.get("initContainers", [])
    )
    view = PodView(init_views, views, now, failure=("Unsupported", message))
    status = build_pod_status(spec, view, previous, now=now, pod_ip="")
    for key in ("hostIP", "hostIPs", "podIP", "podIPs"):
        status.pop(key, None)  # type: ignore[misc]
    return status
