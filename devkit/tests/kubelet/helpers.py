"""Helpers shared by the executor's integration tests."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from .conftest import Api

NS = "default"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def pod(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    """A Pod manifest; containers without an image get one (the API requires it)."""
    for container in [*containers, *spec.get("initContainers", [])]:
        container.setdefault("image", "busybox:1.36")
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": containers, **spec},
    }


def condition(obj: dict[str, Any], kind: str) -> str | None:
    for cond in obj.get("status", {}).get("conditions", []):
        if cond["type"] == kind:
            return str(cond["status"])
    return None


def container_status(obj: dict[str, Any], index: int = 0) -> dict[str, Any]:
    statuses = obj.get("status", {}).get("containerStatuses") or []
    return statuses[index] if index < len(statuses) else {}  # type: ignore[no-any-return]


async def absent(api: Api, name: str) -> bool:
    return await api.pod(NS, name) is None


async def contains(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text()
