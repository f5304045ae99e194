"""A thin async Kubernetes client for the gateway: JSON in, JSON out, typed errors, and
a watch. kubernetes-asyncio gives configuration (kubeconfig or in-cluster) and the HTTP
session; the gateway needs only AgentSessions and its ProviderTenant."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from .errors import AlreadyExists, Conflict, KubeError, NotFound

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    version: str
    plural: str
    namespaced: bool = True

    def path(
        self, namespace: str | None = None, name: str | None = None, sub: str | None = None
    ) -> str:
        base = f"/apis/{self.group}/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        if sub:
            base += f"/{sub}"
        return base


AGENT_SESSIONS = Resource("cephalon.dev", "v1alpha1", "agentsessions")
PROVIDER_TENANTS = Resource("cephalon.dev", "v1alpha1", "providertenants", namespaced=False)


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
    object: Obj


class KubeClient:
    def __init__(self, api: client.ApiClient) -> None:
        self._api = api

    @classmethod
    async def from_environment(cls, kubeconfig: str | None = None) -> KubeClient:
        """In-cluster configuration in a pod, else ``KUBECONFIG``/``~/.kube/config``."""
        if kubeconfig:
            configuration = client.Configuration()
            await config.load_kube_config(
                config_file=kubeconfig, client_configuration=configuration
            )
            return cls(client.ApiClient(configuration))
        try:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        except config.ConfigException:
            await config.load_kube_config()
        return cls(client.ApiClient())

    async def close(self) -> None:
        await self._api.close()

    async def _send(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None,
        body: Any,
        content_type: str,
        timeout: float | None,
    ) -> aiohttp.ClientResponse:
        url = path + (f"?{urlencode(query)}" if query else "")
        try:
            response: aiohttp.ClientResponse = await self._api.call_api(
                url,
                method,
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=timeout,
            )
            return response
        except ApiException as e:
            raise _error(e.status or 0, e.body) from e
        except (aiohttp.ClientError, TimeoutError) as e:
            raise KubeError(0, "NetworkError", str(e)) from e

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Obj:
        response = await self._send(method, path, query, body, content_type, 30.0)
        try:
            data: Obj = json.loads(await response.read() or b"{}")
        except aiohttp.ClientError as e:
            raise KubeError(0, "NetworkError", str(e)) from e
        finally:
            response.release()
        return data

    async def get(self, res: Resource, name: str, namespace: str | None = None) -> Obj | None:
        try:
            return await self.request("GET", res.path(namespace, name))
        except NotFound:
            return None

    async def list(self, res: Resource, namespace: str | None = None) -> Obj:
        """The list object (``items`` and ``metadata.resourceVersion``)."""
        return await self.request("GET", res.path(namespace))

    async def create(self, res: Resource, body: Obj) -> Obj:
        return await self.request("POST", res.path(body["metadata"].get("namespace")), body=body)

    async def merge_patch(
        self, res: Resource, name: str, namespace: str | None, patch: Obj, *, sub: str | None = None
    ) -> Obj:
        return await self.request(
            "PATCH",
            res.path(namespace, name, sub),
            body=patch,
            content_type="application/merge-patch+json",
        )

    async def watch(
        self,
        res: Resource,
        namespace: str | None,
        *,
        resource_version: str,
        timeout_seconds: int = 300,
    ) -> AsyncIterator[WatchEvent]:
        """Events after ``resource_version`` until the server ends the watch."""
        query = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        response = await self._send(
            "GET", res.path(namespace), query, None, "application/json", timeout_seconds + 30
        )
        try:
            async for raw in response.content:
                line = raw.strip()
                if not line:
                    continue
                event = json.loads(line)
                yield WatchEvent(type=str(event.get("type")), object=event.get("object") or {})
        except aiohttp.ClientError as e:
            raise KubeError(0, "NetworkError", str(e)) from e
        finally:
            response.release()


def _error(status: int, body: Any) -> KubeError:
    reason, message = "Unknown", str(body)[:500]
    try:
        parsed = json.loads(body) if isinstance(body, str | bytes) else {}
        reason = parsed.get("reason", reason)
        message = parsed.get("message", message)
    except ValueError:
        pass
    if status == 404:
        return NotFound(status, reason, message)
    if status == 409:
        if reason == "AlreadyExists":
            return AlreadyExists(status, reason, message)
        return Conflict(status, reason, message)
    return KubeError(status, reason, message)
