"""``cephalon dev kubelet`` as a process: image mapping end to end, clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from cephalon_devkit.kubelet.command import parse_image_commands
from cephalon_devkit.testing.kube import KubeApiHandle

from .conftest import Api, eventually


def test_parse_image_commands() -> None:
    assert parse_image_commands(["a/b=python -m 'x y'", "c=sleep"]) == {
        "a/b": ("python", "-m", "x y"),
        "c": ("sleep",),
    }


async def test_cli_runs_mapped_image_and_stops_containers_on_sigterm(
    kube_api: KubeApiHandle, api: Api, tmp_path: Path
) -> None:
    cli = Path(sys.executable).with_name("cephalon")
    if not cli.exists():
        pytest.skip("the cephalon console script is not installed in this environment")
    process = await asyncio.create_subprocess_exec(
        str(cli),
        "dev",
        "kubelet",
        "--kubeconfig",
        str(kube_api.kubeconfig_path),
        "--namespace",
        "default",
        "--state-dir",
        str(tmp_path / "state"),
        "--image-command",
        "example.com/sleeper=sleep",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await api.create(
            "default",
            "pods",
            {
                "metadata": {"name": "mapped"},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "example.com/sleeper:1.0", "args": ["60"]}
                    ]
                },
            },
        )

        async def running_pid() -> int | None:
            obj: dict[str, Any] | None = await api.pod("default", "mapped")
            statuses = (obj or {}).get("status", {}).get("containerStatuses") or [{}]
            cid = statuses[0].get("containerID", "")
            return (
                int(cid.removeprefix("local://"))
                if "running" in statuses[0].get("state", {})
                else None
            )

        pid = await eventually(running_pid, timeout=30, what="mapped container running")
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            assert cmdline.read().split(b"\0")[:2] == [b"sleep", b"60"]
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
