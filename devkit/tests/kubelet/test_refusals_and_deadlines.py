"""What ends a pod as Failed: activeDeadlineSeconds and Unsupported refusals."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from cephalon_devkit.kubelet import PodExecutor

from .conftest import Api, eventually
from .helpers import (
    NS,
    absent,
    alive,
    container_status,
    pod,
)


async def test_active_deadline_fails_the_pod_and_kills_it(api: Api, executor: PodExecutor) -> None:
    await api.create(
        NS,
        "pods",
        pod(
            "deadline",
            [{"name": "app", "command": ["sleep", "60"]}],
            activeDeadlineSeconds=1,
            terminationGracePeriodSeconds=1,
        ),
    )

    async def running_pid() -> int | None:
        obj = await api.pod(NS, "deadline")
        cid = container_status(obj or {}).get("containerID", "")
        return int(cid.removeprefix("local://")) if cid else None

    pid = await eventually(running_pid, what="container running")

    async def failed() -> dict[str, Any] | None:
        obj = await api.pod(NS, "deadline")
        return obj if obj and obj["status"].get("phase") == "Failed" else None

    obj = await eventually(failed, what="pod Failed")
    assert obj["status"]["reason"] == "DeadlineExceeded"
    assert (
        obj["status"]["message"] == "Pod was active on the node longer than the specified deadline"
    )
    assert container_status(obj)["state"]["terminated"]["exitCode"] == 143
    assert not alive(pid)
    assert "DeadlineExceeded" in {e["reason"] for e in await api.events(NS, "deadline")}


async def test_deadline_during_config_error_never_starts_the_container(
    api: Api, executor: PodExecutor, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    await api.create(
        NS,
        "pods",
        pod(
            "never",
            [
                {
                    "name": "app",
                    "command": ["touch", str(marker)],
                    "env": [
                        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "later", "key": "k"}}}
                    ],
                }
            ],
            activeDeadlineSeconds=1,
        ),
    )

    async def failed() -> dict[str, Any] | None:
        obj = await api.pod(NS, "never")
        return obj if obj and obj["status"].get("phase") == "Failed" else None

    obj = await eventually(failed, what="pod Failed by its deadline")
    assert obj["status"]["reason"] == "DeadlineExceeded"
    await api.create(NS, "secrets", {"metadata": {"name": "later"}, "stringData": {"k": "v"}})
    await asyncio.sleep(1.0)  # several config_retry_delay periods (0.2 s)
    assert not marker.exists()


async def test_unsupported_pod_is_refused_not_run(
    api: Api, executor: PodExecutor, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    await api.create(
        NS,
        "pods",
        pod(
            "hostpath",
            [
                {
                    "name": "app",
                    "command": ["touch", str(marker)],
                    "volumeMounts": [{"name": "root", "mountPath": "/host"}],
                }
            ],
            volumes=[{"name": "root", "hostPath": {"path": "/"}}],
        ),
    )

    async def failed() -> dict[str, Any] | None:
        obj = await api.pod(NS, "hostpath")
        return obj if obj and obj["status"].get("phase") == "Failed" else None

    obj = await eventually(failed, what="pod Failed")
    assert obj["status"]["reason"] == "Unsupported"
    assert obj["status"]["message"] == "volume root: hostPath volumes are not supported"
    events = await eventually(lambda: api.events(NS, "hostpath"), what="an event")
    warning = next(e for e in events if e["reason"] == "Unsupported")
    assert warning["type"] == "Warning"
    assert warning["message"] == "volume root: hostPath volumes are not supported"
    assert not marker.exists()
    await api.delete_pod(NS, "hostpath")
    await eventually(lambda: absent(api, "hostpath"), what="refused pod deleted")
