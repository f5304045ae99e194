"""Test helpers shared by every integration suite: polling with a deadline and a raw
HTTP client for a Kubernetes API (the emulator), as kubectl or an operator sees it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import yaml

from cephalon_devkit.local.kubeapi import KubeApi, resource_path
from cephalon_devkit.polling import until

__all__ = ["KubeHttp", "eventually", "resource_path"]

T = TypeVar("T")
Obj = dict[str, Any]


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float = 20.0, what: str = "condition"
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    return await until(probe, timeout=timeout, what=what, error=AssertionError)


class KubeHttp(KubeApi):
    """A raw JSON client for tests: ``call`` returns ``(status, body)`` so tests can
    assert on codes, and the helpers fail the test instead of raising API errors."""

    @property
    def session(self) -> aiohttp.ClientSession:
        """The HTTP session, for tests that speak to the API directly (watches)."""
        return self._session

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
