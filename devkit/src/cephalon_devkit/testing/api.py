"""Test helpers shared by every integration suite: polling with a deadline and a raw
HTTP client for a Kubernetes API (the emulator), as kubectl or an operator sees it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import yaml

T = TypeVar("T")
Obj = dict[str, Any]


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float = 20.0, what: str = "condition"
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}: last {value!r}")
        await asyncio.sleep(0.05)


def resource_path(
    api_version: str, plural: str, namespace: str | None = None, name: str = ""
) -> str:
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    if namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{plural}"
    return f"{base}/{name}" if name else base


class KubeHttp:
    """A raw JSON client: returns ``(status, body)`` so tests can assert on codes."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body)
        async with self.session.request(
            method, self.url + path, data=data, headers={"Content-Type": content_type}
        ) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text else None)

    async def get(self, path: str) -> Obj | None:
        status, body = await self.call("GET", path)
        return body if status == 200 else None

    async def create(self, path: str, obj: Obj) -> Obj:
        status, body = await self.call("POST", path, obj)
        if status not in (200, 201):
            raise AssertionError(f"POST {path}: {status} {body}")
        result: Obj = body
        return result

    async def merge_patch(self, path: str, patch: Obj) -> Obj:
        status, body = await self.call("PATCH", path, patch, "application/merge-patch+json")
        if status != 200:
            raise AssertionError(f"PATCH {path}: {status} {body}")
        result: Obj = body
        return result

    async def apply_crds(self, directory: Path) -> None:
        """Create every CRD in ``directory`` and wait until each is served."""
        path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        for file in sorted(directory.glob("*.yaml")):
            crd = yaml.safe_load(file.read_text())
            status, body = await self.call("POST", path, crd)
            if status not in (201, 409):
                raise AssertionError(f"CRD {file.name}: {status} {body}")
            group = crd["spec"]["group"]
            version = crd["spec"]["versions"][0]["name"]
            plural = crd["spec"]["names"]["plural"]

            async def served(g: str = group, v: str = version, p: str = plural) -> bool:
                status, _ = await self.call("GET", f"/apis/{g}/{v}/{p}")
                return status == 200

            await eventually(served, timeout=10, what=f"{plural} to be served")
