"""The few Kubernetes API calls the executor makes, over aiohttp.

Pods: list, watch, patch ``/status``, final delete. Secrets and ConfigMaps: get.
Events: create. Errors come back as ``ApiError`` subclasses built from the server's
``Status`` body.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, cast

import aiohttp

from cephalon_devkit.kubelet.errors import ApiError, Conflict, Gone, NotFound
from cephalon_devkit.kubelet.kubeconfig import Connection
from cephalon_devkit.kubelet.types import (
    ConfigMap,
    Event,
    JsonObject,
    Pod,
    PodList,
    PodStatus,
    Secret,
    WatchEvent,
)

_ERRORS: dict[int, type[ApiError]] = {404: NotFound, 409: Conflict, 410: Gone}
# A single call (not a watch) that takes longer is abandoned and retried by its caller.
_REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30)


def _pods_path(namespace: str | None) -> str:
    return f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"


def api_error(code: int, body: Any) -> ApiError:
    """The error for a non-2xx answer, from its ``Status`` body when there is one."""
    reason, message = "", ""
    if isinstance(body, dict):
        reason = str(body.get("reason", ""))
        message = str(body.get("message", ""))
    else:
        message = str(body)[:500]
    return _ERRORS.get(code, ApiError)(code, reason, message)


class KubeClient:
    """A thin typed client; the caller owns the ``aiohttp.ClientSession``."""

    def __init__(self, session: aiohttp.ClientSession, connection: Connection) -> None:
        self._session = session
        self._connection = connection
        self._headers = {"Accept": "application/json", **connection.headers()}
        self._ssl: Any = connection.ssl_context() or True

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        headers = dict(self._headers)
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        async with self._session.request(
            method,
            self._connection.server + path,
            params=params,
            data=data,
            headers=headers,
            ssl=self._ssl,
            timeout=_REQUEST_TIMEOUT,
        ) as response:
            text = await response.text()
            try:
                payload = json.loads(text) if text else None
            except json.JSONDecodeError:
                payload = text
            if response.status >= 400:
                raise api_error(response.status, payload)
            return payload

    async def list_pods(self, namespace: str | None) -> PodList:
        return cast(PodList, await self._request("GET", _pods_path(namespace)))

    async def watch_pods(
        self, namespace: str | None, resource_version: str, *, timeout_seconds: int
    ) -> AsyncIterator[WatchEvent]:
        """Watch events from ``resource_version`` until the server ends the stream.

        A 410 (at the start or as an ``ERROR`` event) raises ``Gone``.
        """
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        async with self._session.get(
            self._connection.server + _pods_path(namespace),
            params=params,
            headers=self._headers,
            ssl=self._ssl,
            timeout=aiohttp.ClientTimeout(total=None, sock_read=timeout_seconds + 30),
        ) as response:
            if response.status >= 400:
                text = await response.text()
                try:
                    payload: Any = json.loads(text)
                except json.JSONDecodeError:
                    payload = text
                raise api_error(response.status, payload)
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = cast(WatchEvent, json.loads(line))
                    if event["type"] == "ERROR":
                        status = event["object"]
                        raise api_error(int(status.get("code", 500)), status)
                    yield event

    async def get_secret(self, namespace: str, name: str) -> Secret | None:
        try:
            return cast(
                Secret, await self._request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
            )
        except NotFound:
            return None

    async def get_config_map(self, namespace: str, name: str) -> ConfigMap | None:
        try:
            return cast(
                ConfigMap,
                await self._request("GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}"),
            )
        except NotFound:
            return None

    async def get_pod(self, namespace: str, name: str) -> Pod | None:
        try:
            return cast(
                Pod, await self._request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
            )
        except NotFound:
            return None

    async def patch_pod_status(self, namespace: str, name: str, uid: str, status: PodStatus) -> Pod:
        """Merge-patch ``/status`` (with the pod's uid as a precondition)."""
        body: JsonObject = {"metadata": {"uid": uid}, "status": status}
        return cast(
            Pod,
            await self._request(
                "PATCH",
                f"/api/v1/namespaces/{namespace}/pods/{name}/status",
                body=body,
                content_type="application/merge-patch+json",
            ),
        )

    async def bind_pod(self, namespace: str, name: str, uid: str, node_name: str) -> None:
        """Bind a pod to a node, as the scheduler does (``pods/binding``)."""
        body: JsonObject = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, "uid": uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
        }
        await self._request(
            "POST", f"/api/v1/namespaces/{namespace}/pods/{name}/binding", body=body
        )

    async def delete_pod_now(self, namespace: str, name: str, uid: str) -> None:
        """The kubelet's final delete: grace period 0, only this incarnation (uid)."""
        body = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": uid},
        }
        try:
            await self._request("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}", body=body)
        except (NotFound, Conflict):
            pass

    async def create_event(self, namespace: str, event: Event) -> None:
        await self._request("POST", f"/api/v1/namespaces/{namespace}/events", body=event)

    async def patch_event(self, namespace: str, name: str, patch: JsonObject) -> None:
        await self._request(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/events/{name}",
            body=patch,
            content_type="application/merge-patch+json",
        )
