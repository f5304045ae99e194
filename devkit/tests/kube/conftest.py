"""Fixtures for the emulator's conformance tests: the server, a raw HTTP client that
shows status codes and headers as a Kubernetes client sees them, and the CRDs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest_asyncio
import yaml

# pytest refuses ``pytest_plugins`` outside the root conftest (it would break a
# whole-repo run), so the plugin's fixtures are imported instead.
from cephalon_devkit.testing.kube import (  # noqa: E402, F401
    KubeApiHandle,
    kube_api,
    kube_api_threaded,
)

REPO = Path(__file__).resolve().parents[3]
CRD_DIR = REPO / "crds"
SAMPLES = Path(__file__).parent / "samples"
AS_PATH = "/apis/cephalon.dev/v1alpha1/namespaces/default/agentsessions"
PT_PATH = "/apis/cephalon.dev/v1alpha1/providertenants"
T = TypeVar("T")


class Reply:
    def __init__(self, status: int, headers: Any, body: Any) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"Reply({self.status}, {json.dumps(self.body)[:400]})"


class Http:
    """A bare client: every answer, error or not, with its status and headers."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        data = (
            None
            if body is None
            else (body if isinstance(body, bytes) else json.dumps(body).encode())
        )
        all_headers = {"Content-Type": content_type, **(headers or {})}
        async with self.session.request(
            method, self.url + path, data=data, params=params, headers=all_headers
        ) as response:
            raw = await response.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode()
            return Reply(response.status, response.headers, parsed)

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, body: Any, **kw: Any) -> Reply:
        return await self.request("POST", path, body, **kw)

    async def put(self, path: str, body: Any, **kw: Any) -> Reply:
        return await self.request("PUT", path, body, **kw)

    async def patch(self, path: str, body: Any, kind: str = "merge", **kw: Any) -> Reply:
        types = {
            "merge": "application/merge-patch+json",
            "json": "application/json-patch+json",
            "strategic": "application/strategic-merge-patch+json",
        }
        return await self.request("PATCH", path, body, content_type=types[kind], **kw)

    async def delete(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.request("DELETE", path, body, **kw)

    async def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        reply = await self.request(method, path, body, **kw)
        assert 200 <= reply.status < 300, reply
        return reply.body

    async def watch(
        self,
        path: str,
        params: dict[str, str],
        *,
        until: Callable[[list[dict[str, Any]]], bool],
        timeout: float = 10.0,
    ) -> list[dict[str, Any]]:
        """Read watch events until ``until(events)`` holds or the stream ends."""
        events: list[dict[str, Any]] = []
        async with self.session.get(
            self.url + path,
            params={"watch": "true", **params},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/json;stream=watch"
            async for line in response.content:
                if line.strip():
                    events.append(json.loads(line))
                    if until(events):
                        break
        return events


@pytest_asyncio.fixture
async def http(kube_api: KubeApiHandle) -> AsyncIterator[Http]:  # noqa: F811
    async with aiohttp.ClientSession() as session:
        yield Http(session, kube_api.url)


def load_crds() -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted(CRD_DIR.glob("*.yaml"))]


@pytest_asyncio.fixture
async def crds(http: Http) -> list[dict[str, Any]]:
    created = []
    for crd in load_crds():
        created.append(
            await http.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        )
    return created


def session_body(name: str = "s1", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "cephalon.dev/v1alpha1",
        "kind": "AgentSession",
        "metadata": {"name": name, "labels": {"tenant": "duck"}},
        "spec": {
            "provider": "discord",
            "tenant": "duck",
            "owner": {"id": "1", "name": "alice"},
            "conversation": {"channel": "c1"},
            **spec,
        },
    }


def pod_body(name: str = "p1", **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, **extra.pop("metadata", {})},
        "spec": {
            "containers": [
                {"name": "main", "image": "python:3.11", "env": [{"name": "A", "value": "1"}]}
            ],
            **extra,
        },
    }


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float = 10.0, what: str = "condition"
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
