"""The few Kubernetes API calls local mode makes, over HTTP as any client would.

Local mode talks to the API emulator through its HTTP API only (never its in-process
store), so everything it creates goes through the same validation, admission and watch
path as objects created by ``kubectl`` or the operator.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

Obj = dict[str, Any]


class KubeApiError(RuntimeError):
    """The API answered with an error; ``status`` and the server's message kept."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        message = body.get("message", body) if isinstance(body, dict) else body
        super().__init__(f"{method} {path}: {status} {message}")
        self.status = status


def resource_path(
    api_version: str, plural: str, namespace: str | None = None, name: str = ""
) -> str:
    """``/api/v1/...`` for the core group, ``/apis/<group>/<version>/...`` otherwise."""
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    if namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{plural}"
    return f"{base}/{name}" if name else base


class KubeApi:
    """JSON over HTTP; the caller owns the ``aiohttp.ClientSession``."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self._session = session
        self.url = url.rstrip("/")

    async def call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body)
        async with self._session.request(
            method, self.url + path, data=data, headers={"Content-Type": content_type}
        ) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text else None)

    async def get(self, path: str) -> Obj | None:
        status, body = await self.call("GET", path)
        if status == 404:
            return None
        if status != 200:
            raise KubeApiError("GET", path, status, body)
        result: Obj = body
        return result

    async def items(self, path: str) -> list[Obj]:
        listing = await self.get(path)
        return list((listing or {}).get("items") or [])

    async def ensure(self, path: str, obj: Obj) -> Obj:
        """Create ``obj`` in the collection ``path``; an existing one is replaced by it
        (so a second run, or an edited ``providers.yml``, converges)."""
        status, body = await self.call("POST", path, obj)
        if status in (200, 201):
            result: Obj = body
            return result
        if status != 409:
            raise KubeApiError("POST", path, status, body)
        item = f"{path}/{obj['metadata']['name']}"
        current = await self.get(item)
        if current is None:  # deleted meanwhile: try once more
            return await self.ensure(path, obj)
        replacement = {**obj, "metadata": {**obj["metadata"]}}
        replacement["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        status, body = await self.call("PUT", item, replacement)
        if status != 200:
            raise KubeApiError("PUT", item, status, body)
        result = body
        return result

    async def merge_patch(self, path: str, patch: Obj) -> Obj:
        status, body = await self.call("PATCH", path, patch, "application/merge-patch+json")
        if status != 200:
            raise KubeApiError("PATCH", path, status, body)
        result: Obj = body
        return result
