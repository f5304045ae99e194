"""Pod lifecycle on the executor: Ready, deletion, finalizers, executor restart and shutdown."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from cephalon_devkit.kubelet import PodExecutor

from .conftest import Api, MakeExecutor, eventually
from .helpers import (
    NS,
    absent,
    alive,
    condition,
    container_status,
    free_port,
    pod,
)


async def test_http_server_becomes_ready_and_is_terminated_on_delete(
    api: Api, executor: PodExecutor, tmp_path: Path
) -> None:
    port = free_port()
    await api.create(
        NS,
        "pods",
        pod(
            "web",
            [
                {
                    "name": "web",
                    "image": "python:3.11",
                    "command": [sys.executable, "-m", "http.server", str(port)],
                    "args": ["--bind", "127.0.0.1", "--directory", "/srv"],
                    "ports": [{"name": "http", "containerPort": port}],
                    "readinessProbe": {
                        "httpGet": {"path": "/", "port": "http"},
                        "periodSeconds": 1,
                    },
                    "volumeMounts": [{"name": "site", "mountPath": "/srv"}],
                }
            ],
            volumes=[{"name": "site", "emptyDir": {}}],
            terminationGracePeriodSeconds=5,
        ),
    )

    async def ready() -> dict[str, Any] | None:
        obj = await api.pod(NS, "web")
        return obj if obj and condition(obj, "Ready") == "True" else None

    obj = await eventually(ready, what="pod Ready")
    status = obj["status"]
    assert status["phase"] == "Running"
    assert status["podIP"] == "127.0.0.1"
    assert status["startTime"].endswith("Z")
    assert obj["spec"]["nodeName"] == "cephalon-local"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    web = container_status(obj)
    assert web["ready"] is True and web["started"] is True and web["restartCount"] == 0
    assert "running" in web["state"]
    pid = int(web["containerID"].removeprefix("local://"))
    assert alive(pid)

    began = time.monotonic()
    deleting = await api.delete_pod(NS, "web")
    assert deleting["metadata"]["deletionGracePeriodSeconds"] == 5  # graceful: bound pod

    async def gone() -> bool:
        return await api.pod(NS, "web") is None and not alive(pid)

    await eventually(gone, what="pod object and process gone")
    assert time.monotonic() - began < 5  # http.server exits on SIGTERM, no SIGKILL wait
    events = {e["reason"] for e in await api.events(NS, "web")}
    assert {"Scheduled", "Pulled", "Created", "Started", "Killing"} <= events
    # http.server logs each probe request on stderr, which goes to the container's log.
    log = (tmp_path / "logs" / NS / "web" / "web.log").read_text()
    assert '"GET / HTTP/1.1" 200' in log


async def test_deleted_pod_with_a_finalizer_ends_failed_and_waits_for_it(
    api: Api, executor: PodExecutor
) -> None:
    manifest = pod("held", [{"name": "app", "command": ["sleep", "60"]}])
    manifest["metadata"]["finalizers"] = ["example.com/hold"]
    manifest["spec"]["terminationGracePeriodSeconds"] = 2
    await api.create(NS, "pods", manifest)

    async def running_pid() -> int | None:
        obj = await api.pod(NS, "held")
        state = container_status(obj or {}).get("state", {})
        cid = container_status(obj or {}).get("containerID", "")
        return int(cid.removeprefix("local://")) if "running" in state and cid else None

    pid = await eventually(running_pid, what="container running")
    await api.delete_pod(NS, "held")

    async def finished() -> dict[str, Any] | None:
        obj = await api.pod(NS, "held")
        meta = (obj or {}).get("metadata", {})
        return obj if obj and meta.get("deletionGracePeriodSeconds") == 0 else None

    obj = await eventually(finished, what="the executor's final delete")
    assert not alive(pid)
    assert obj["status"]["phase"] == "Failed"  # deleted pods end terminal (Kubernetes 1.27+)
    assert container_status(obj)["state"]["terminated"]["exitCode"] == 143
    code, _ = await api.call(
        "PATCH",
        f"/api/v1/namespaces/{NS}/pods/held",
        {"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
    assert code == 200
    await eventually(lambda: absent(api, "held"), what="pod gone once the finalizer is removed")


async def test_a_new_executor_starts_the_pods_a_stopped_one_left(
    api: Api, make_executor: MakeExecutor
) -> None:
    first = await make_executor()
    await api.create(
        NS,
        "pods",
        pod(
            "survivor",
            [{"name": "app", "command": ["sleep", "60"]}],
            terminationGracePeriodSeconds=1,
        ),
    )

    async def running_pid() -> int | None:
        obj = await api.pod(NS, "survivor")
        state = container_status(obj or {}).get("state", {})
        cid = container_status(obj or {}).get("containerID", "")
        return int(cid.removeprefix("local://")) if "running" in state and cid else None

    old_pid = await eventually(running_pid, what="container running")
    await first.aclose()
    assert not alive(old_pid)
    await make_executor()

    async def restarted() -> int | None:
        pid = await running_pid()
        return pid if pid and pid != old_pid and alive(pid) else None

    await eventually(restarted, what="container running again under the new executor")


async def test_shutdown_stops_every_container(api: Api, make_executor: MakeExecutor) -> None:
    executor = await make_executor(shutdown_grace=0.5)
    await api.create(
        NS,
        "pods",
        pod(
            "stubborn", [{"name": "app", "command": ["sh", "-c", "trap '' TERM; sleep 60 & wait"]}]
        ),
    )

    async def running_pid() -> int | None:
        obj = await api.pod(NS, "stubborn")
        cid = container_status(obj or {}).get("containerID", "")
        return int(cid.removeprefix("local://")) if cid else None

    pid = await eventually(running_pid, what="container running")
    await executor.aclose()
    assert not alive(pid)
    assert await api.pod(NS, "stubborn") is not None  # a node going away leaves the pod object
