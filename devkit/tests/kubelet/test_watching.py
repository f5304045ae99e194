"""Listing and watching pods: relist diffing, 410 Gone, events reaching the callback."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cephalon_devkit.kube import KubeApiServer
from cephalon_devkit.kubelet import load_kubeconfig
from cephalon_devkit.kubelet.client import KubeClient
from cephalon_devkit.kubelet.errors import Gone
from cephalon_devkit.kubelet.types import Pod
from cephalon_devkit.kubelet.watching import is_on_node, relist, watch_namespace

from .conftest import eventually


def _pod(uid: str, node: str = "") -> Pod:
    return {"metadata": {"uid": uid, "name": uid}, "spec": {"nodeName": node}}


def test_relist_reports_vanished_pods_first() -> None:
    a, b, c = _pod("a"), _pod("b"), _pod("c")
    known, changes = relist({"a": a, "b": b}, [b, c])
    assert known == {"b": b, "c": c}
    assert changes == [("DELETED", a), ("ADDED", b), ("ADDED", c)]


def test_is_on_node() -> None:
    assert is_on_node(_pod("a"), "n1")
    assert is_on_node(_pod("a", "n1"), "n1")
    assert not is_on_node(_pod("a", "n2"), "n1")


def _manifest(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "i"}]}}


async def test_watch_from_a_compacted_version_is_gone(tmp_path: Path) -> None:
    async with KubeApiServer(history_size=2) as server, aiohttp.ClientSession() as session:
        client = KubeClient(session, load_kubeconfig(server.write_kubeconfig(tmp_path / "kc")))
        first = (await client.list_pods("default")).get("metadata", {})["resourceVersion"]
        for index in range(5):
            async with session.post(
                f"{server.url}/api/v1/namespaces/default/pods", json=_manifest(f"p{index}")
            ) as response:
                assert response.status == 201
        with pytest.raises(Gone):
            async for _ in client.watch_pods("default", first, timeout_seconds=5):
                pass


async def test_watch_namespace_delivers_adds_and_deletes(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    async with KubeApiServer() as server, aiohttp.ClientSession() as session:
        client = KubeClient(session, load_kubeconfig(server.write_kubeconfig(tmp_path / "kc")))
        url = f"{server.url}/api/v1/namespaces/default/pods"
        async with session.post(url, json=_manifest("before")) as response:
            assert response.status == 201
        task = asyncio.create_task(
            watch_namespace(
                client,
                "default",
                lambda kind, pod: seen.append((kind, pod["metadata"]["name"])),
                timeout_seconds=1,
            )
        )
        try:
            await eventually(lambda: _async(("ADDED", "before") in seen), what="listed pod")
            async with session.post(url, json=_manifest("after")) as response:
                assert response.status == 201
            async with session.delete(f"{url}/before") as response:
                assert response.status == 200
            await asyncio.sleep(1.5)  # across one watch timeout and resume
            async with session.post(url, json=_manifest("later")) as response:
                assert response.status == 201
            await eventually(lambda: _async(("ADDED", "later") in seen), what="resumed watch")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert seen == [
        ("ADDED", "before"),
        ("ADDED", "after"),
        ("DELETED", "before"),
        ("ADDED", "later"),
    ]


async def _async(value: bool) -> bool:
    return value
