"""Restarts with CrashLoopBackOff and the three kinds of probes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from cephalon_devkit.kubelet import PodExecutor

from .conftest import Api, eventually
from .helpers import (
    NS,
    absent,
    condition,
    container_status,
    pod,
)


async def test_crashing_container_restarts_with_growing_backoff(
    api: Api, executor: PodExecutor, tmp_path: Path
) -> None:
    starts = tmp_path / "starts"
    script = "import sys, time; open(sys.argv[1], 'a').write(f'{time.time()}\\n'); sys.exit(3)"
    await api.create(
        NS,
        "pods",
        pod("crash", [{"name": "app", "command": [sys.executable, "-c", script, str(starts)]}]),
    )
    seen_backoff: list[dict[str, Any]] = []

    async def four_starts() -> bool:
        obj = await api.pod(NS, "crash")
        waiting = container_status(obj or {}).get("state", {}).get("waiting", {})
        if waiting.get("reason") == "CrashLoopBackOff":
            seen_backoff.append(container_status(obj or {}))
        return starts.exists() and len(starts.read_text().split()) >= 4

    await eventually(four_starts, what="four starts")
    times = [float(t) for t in starts.read_text().split()]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)][:3]
    # The kubelet restarts at once after the first crash, then waits base, 2*base, ...
    # Lower bounds only: process start-up adds a load-dependent delay to every gap.
    assert gaps[1] >= 0.4, gaps
    assert gaps[2] >= 0.8, gaps
    assert seen_backoff, "never saw waiting.reason CrashLoopBackOff"
    crash = seen_backoff[-1]
    assert crash["state"]["waiting"]["message"].startswith("back-off ")
    assert (
        "restarting failed container=app pod=crash_default(" in crash["state"]["waiting"]["message"]
    )
    assert crash["lastState"]["terminated"]["exitCode"] == 3
    assert crash["lastState"]["terminated"]["reason"] == "Error"
    assert crash["restartCount"] >= 1
    obj = await api.pod(NS, "crash")
    assert obj is not None and obj["status"]["phase"] == "Running"
    assert container_status(obj)["restartCount"] >= 3

    # Deleting a pod that waits in back-off ends it at once.
    await api.delete_pod(NS, "crash")
    await eventually(lambda: absent(api, "crash"), what="crash-looping pod deleted")

    # Repeats are aggregated into one Event with a count, as client-go's correlator does.
    async def aggregated() -> list[dict[str, Any]] | None:
        found = [e for e in await api.events(NS, "crash") if e["reason"] == "BackOff"]
        return found if found and found[0]["count"] >= 2 else None

    backoffs = await eventually(aggregated, what="an aggregated BackOff event")
    assert len(backoffs) == 1
    assert backoffs[0]["involvedObject"]["fieldPath"] == "spec.containers{app}"


async def test_exec_readiness_probe_follows_a_file(
    api: Api, executor: PodExecutor, tmp_path: Path
) -> None:
    await api.create(
        NS,
        "pods",
        pod(
            "execprobe",
            [
                {
                    "name": "app",
                    "command": ["sleep", "60"],
                    "readinessProbe": {
                        "exec": {"command": ["test", "-f", "/data/ready"]},
                        "periodSeconds": 1,
                    },
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
            volumes=[{"name": "data", "emptyDir": {}}],
            terminationGracePeriodSeconds=1,
        ),
    )

    async def running_unready() -> bool:
        obj = await api.pod(NS, "execprobe")
        return bool(
            obj
            and obj["status"].get("phase") == "Running"
            and condition(obj, "ContainersReady") == "False"
        )

    await eventually(running_unready, what="Running but not ready")
    volume = next((tmp_path / "state" / "pods" / NS).glob("execprobe-*")) / "volumes" / "data"
    (volume / "ready").touch()

    async def ready() -> bool:
        obj = await api.pod(NS, "execprobe")
        return bool(obj and condition(obj, "Ready") == "True")

    await eventually(ready, what="Ready after the file appeared")
    (volume / "ready").unlink()

    async def unready_again() -> bool:
        obj = await api.pod(NS, "execprobe")
        return bool(obj and condition(obj, "Ready") == "False")

    await eventually(unready_again, what="not Ready after 3 failed probes")
    obj = await api.pod(NS, "execprobe")
    assert obj is not None and container_status(obj)["restartCount"] == 0
    unhealthy = [e for e in await api.events(NS, "execprobe") if e["reason"] == "Unhealthy"]
    assert unhealthy and unhealthy[0]["message"].startswith("Readiness probe failed: exit code 1")


async def test_liveness_failure_restarts_and_startup_probe_gates_started(
    api: Api, executor: PodExecutor, tmp_path: Path
) -> None:
    await api.create(
        NS,
        "pods",
        pod(
            "probes",
            [
                {
                    "name": "flaky",
                    "command": [
                        "sh",
                        "-c",
                        "touch /data/alive; sleep 1; rm /data/alive; exec sleep 60",
                    ],
                    "livenessProbe": {
                        "exec": {"command": ["test", "-f", "/data/alive"]},
                        "periodSeconds": 1,
                        "failureThreshold": 1,
                    },
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                },
                {
                    "name": "slow",
                    "command": ["sleep", "60"],
                    "startupProbe": {
                        "exec": {"command": ["test", "-f", "/data/started"]},
                        "periodSeconds": 1,
                        "failureThreshold": 30,
                    },
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                },
            ],
            volumes=[{"name": "data", "emptyDir": {}}],
            terminationGracePeriodSeconds=1,
        ),
    )

    async def slow_unstarted() -> bool:
        obj = await api.pod(NS, "probes")
        slow = container_status(obj or {}, 1)
        return "running" in slow.get("state", {}) and slow.get("started") is False

    await eventually(slow_unstarted, what="a running container not yet started")
    obj = await api.pod(NS, "probes")
    assert obj is not None and container_status(obj, 1)["ready"] is False
    pod_root = next((tmp_path / "state" / "pods" / NS).glob("probes-*"))
    (pod_root / "volumes" / "data" / "started").touch()

    async def restarted_and_started() -> dict[str, Any] | None:
        obj = await api.pod(NS, "probes")
        if obj is None:
            return None
        slow = container_status(obj, 1)
        flaky = container_status(obj, 0)
        done = flaky.get("restartCount", 0) >= 1 and slow.get("started") is True
        return obj if done else None

    obj = await eventually(restarted_and_started, what="a liveness restart and a started probe")
    assert container_status(obj, 1)["ready"] is True  # no readiness probe: ready once started
    flaky = container_status(obj, 0)
    assert flaky["lastState"]["terminated"]["exitCode"] == 143
    assert container_status(obj, 1)["restartCount"] == 0
    messages = [e["message"] for e in await api.events(NS, "probes") if e["reason"] == "Killing"]
    assert "Container flaky failed liveness probe, will be restarted" in messages
