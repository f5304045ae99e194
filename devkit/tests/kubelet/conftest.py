"""Fixtures for the executor's integration tests: the Kubernetes API emulator
(``cephalon_devkit.testing.kube``), a small HTTP helper to act as a user of the API, and
a running executor with a short back-off."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio

from cephalon_devkit.kubelet import KubeletConfig, PodExecutor, load_kubeconfig
from cephalon_devkit.kubelet.client import KubeClient
from cephalon_devkit.testing.api import eventually  # noqa: F401 - shared by the tests
from cephalon_devkit.testing.kube import KubeApiHandle, kube_api  # noqa: F401


def _ours(task: asyncio.Task[Any]) -> bool:
    """Whether a task runs a coroutine defined in the executor's package."""
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and "/cephalon_devkit/kubelet/" in code.co_filename


class Api:
    """The API as a user (kubectl, the operator) would use it."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type}
        async with self.session.request(method, self.url + path, data=data, headers=headers) as r:
            text = await r.text()
            return r.status, (json.loads(text) if text else None)

    async def create(self, namespace: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        code, body = await self.call("POST", f"/api/v1/namespaces/{namespace}/{plural}", obj)
        assert code == 201, body
        return body  # type: ignore[no-any-return]

    async def pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        code, body = await self.call("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
        return body if code == 200 else None  # type: ignore[no-any-return]

    async def delete_pod(self, namespace: str, name: str) -> dict[str, Any]:
        code, body = await self.call("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}")
        assert code in (200, 202), body
        return body  # type: ignore[no-any-return]

    async def events(self, namespace: str, pod: str) -> list[dict[str, Any]]:
        code, body = await self.call("GET", f"/api/v1/namespaces/{namespace}/events")
        assert code == 200, body
        return [e for e in body["items"] if e["involvedObject"]["name"] == pod]


@pytest_asyncio.fixture
async def api(kube_api: KubeApiHandle) -> AsyncIterator[Api]:  # noqa: F811
    async with aiohttp.ClientSession() as session:
        yield Api(session, kube_api.url)


MakeExecutor = Callable[..., Awaitable[PodExecutor]]


@pytest_asyncio.fixture
async def make_executor(
    kube_api: KubeApiHandle,  # noqa: F811
    tmp_path: Path,
) -> AsyncIterator[MakeExecutor]:
    """Factory for a started executor over the emulator (closed at the end)."""
    stack: list[tuple[PodExecutor, aiohttp.ClientSession, aiohttp.ClientSession]] = []
    connection = load_kubeconfig(kube_api.kubeconfig_path)

    async def make(**overrides: Any) -> PodExecutor:
        settings: dict[str, Any] = {
            "state_dir": tmp_path / "state",
            "log_dir": tmp_path / "logs",
            "namespaces": ("default",),
            "backoff_base": 0.4,
            "config_retry_delay": 0.2,
            "shutdown_grace": 2.0,
        }
        settings.update(overrides)
        api_session = aiohttp.ClientSession()
        probe_session = aiohttp.ClientSession()
        executor = PodExecutor(
            KubeletConfig(**settings), KubeClient(api_session, connection), probe_session
        )
        executor.start()
        stack.append((executor, api_session, probe_session))
        return executor

    try:
        yield make
    finally:
        for executor, api_session, probe_session in reversed(stack):
            await executor.aclose()
            await api_session.close()
            await probe_session.close()
    leftovers = [task for task in asyncio.all_tasks() if not task.done() and _ours(task)]
    assert not leftovers, f"the executor left tasks running: {leftovers}"


@pytest_asyncio.fixture
async def executor(make_executor: MakeExecutor) -> PodExecutor:
    return await make_executor()
