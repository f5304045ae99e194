"""A minimal kopf operator (finalizer, child pod via ``kopf.adopt``, ``patch.status``)
runs its full lifecycle against the emulator, many times in a row, without a hang.

kopf runs in its own thread and event loop, as ``kopf.testing.KopfRunner`` does:
``kopf.operator()`` cancels asyncio tasks created after it started, and the emulator
serves from the test's loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import kopf
import pytest

from cephalon_devkit.testing.kube import KubeApiHandle

from .conftest import AS_PATH, Http, eventually, session_body

FINALIZER = "cephalon.dev/test-operator"
PODS = "/api/v1/namespaces/default/pods"
ITERATIONS = 50


def build_registry(url: str, deleted: list[str]) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=url, insecure=True, default_namespace="default")

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = FINALIZER
        settings.posting.level = logging.WARNING
        settings.watching.server_timeout = 30
        settings.networking.request_timeout = 30

    @kopf.on.create("cephalon.dev", "v1alpha1", "agentsessions", registry=registry)
    async def create(body: kopf.Body, name: str, patch: kopf.Patch, **_: Any) -> None:
        pod: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"{name}-pod"},
            "spec": {"containers": [{"name": "runtime", "image": "cephalon/runtime:dev"}]},
        }
        kopf.adopt(pod, owner=body)
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{url}{PODS}", json=pod) as response:
                if response.status not in (201, 409):  # 409: already done (idempotent)
                    raise kopf.TemporaryError(f"pod: {response.status}", delay=0.1)
        patch.status["phase"] = "Ready"
        patch.status["podName"] = pod["metadata"]["name"]

    @kopf.on.delete("cephalon.dev", "v1alpha1", "agentsessions", registry=registry)
    async def delete(name: str, **_: Any) -> None:
        deleted.append(name)

    return registry


@pytest.fixture
def operator(kube_api: KubeApiHandle) -> Iterator[list[str]]:
    deleted: list[str] = []
    registry = build_registry(kube_api.url, deleted)
    stop, ready = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(
                kopf.operator(
                    registry=registry,
                    standalone=True,
                    namespaces=["default"],
                    stop_flag=stop,
                    ready_flag=ready,
                )
            )
        except BaseException as e:  # surfaced in the test
            errors.append(e)

    thread = threading.Thread(target=run, name="kopf-operator", daemon=True)
    thread.start()
    try:
        yield deleted
    finally:
        stop.set()
        thread.join(timeout=20)
        assert not thread.is_alive(), "kopf did not stop"
        assert not errors, errors


@pytest.mark.slow
async def test_kopf_operator_full_lifecycle_repeatedly(
    http: Http, crds: object, operator: list[str]
) -> None:
    started = time.monotonic()
    for i in range(ITERATIONS):
        name = f"s{i}"
        created = await http.ok("POST", AS_PATH, session_body(name))

        async def ready(name: str = name) -> dict[str, Any] | None:
            obj = await http.ok("GET", f"{AS_PATH}/{name}")
            return obj if (obj.get("status") or {}).get("phase") == "Ready" else None

        obj = await eventually(ready, timeout=20, what=f"{name} Ready")
        assert FINALIZER in obj["metadata"]["finalizers"]
        pod = await http.ok("GET", f"{PODS}/{name}-pod")
        [ref] = pod["metadata"]["ownerReferences"]
        assert ref["uid"] == created["metadata"]["uid"] and ref["controller"] is True

        await http.ok("DELETE", f"{AS_PATH}/{name}")

        async def gone(path: str) -> bool:
            return (await http.get(path)).status == 404

        session_path, pod_path = f"{AS_PATH}/{name}", f"{PODS}/{name}-pod"
        await eventually(lambda: gone(session_path), timeout=20, what=f"{name} deleted")  # noqa: B023
        await eventually(lambda: gone(pod_path), timeout=20, what=f"{name} pod GC")  # noqa: B023
    assert operator == [f"s{i}" for i in range(ITERATIONS)]
    logging.getLogger(__name__).info(
        "%d kopf lifecycles in %.1fs", ITERATIONS, time.monotonic() - started
    )


async def test_stale_writes_conflict_while_kopf_writes(
    http: Http, crds: object, operator: list[str]
) -> None:
    created = await http.ok("POST", AS_PATH, session_body("stale"))

    async def touched() -> bool:
        obj = await http.ok("GET", f"{AS_PATH}/stale")
        return obj["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"] and (
            (obj.get("status") or {}).get("phase") == "Ready"
        )

    await eventually(touched, timeout=20, what="kopf wrote the object")
    stale = await http.put(f"{AS_PATH}/stale", created)
    assert stale.status == 409 and stale.body["reason"] == "Conflict"
    stale_status = await http.put(
        f"{AS_PATH}/stale/status", {**created, "status": {"phase": "Failed"}}
    )
    assert stale_status.status == 409
    patch = [
        {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": created["metadata"]["resourceVersion"],
        },
        {"op": "replace", "path": "/spec/owner/name", "value": "eve"},
    ]
    reply = await http.request(
        "PATCH",
        f"{AS_PATH}/stale",
        json.dumps(patch).encode(),
        content_type="application/json-patch+json",
    )
    assert reply.status == 422
