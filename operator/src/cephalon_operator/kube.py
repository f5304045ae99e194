"""A thin async Kubernetes client: JSON in, JSON out, typed errors.

kubernetes-asyncio provides configuration (kubeconfig or in-cluster) and the HTTP
session; this module only builds paths for any resource, including our custom ones,
and maps error statuses to :mod:`cephalon_operator.errors`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from .errors import AlreadyExists, Conflict, KubeError, NotFound

Obj = dict[str, Any]
PatchType = Literal["merge", "json", "strategic"]
_PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    version: str
    plural: str
    namespaced: bool = True

    def path(
        self, namespace: str | None = None, name: str | None = None, sub: str | None = None
    ) -> str:
        base = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        if sub:
            base += f"/{sub}"
        return base


PODS = Resource("", "v1", "pods")
SECRETS = Resource("", "v1", "secrets")
CONFIGMAPS = Resource("", "v1", "configmaps")
NAMESPACES = Resource("", "v1", "namespaces", namespaced=False)
SERVICES = Resource("", "v1", "services")
SERVICE_ACCOUNTS = Resource("", "v1", "serviceaccounts")
PVCS = Resource("", "v1", "persistentvolumeclaims")
QUOTAS = Resource("", "v1", "resourcequotas")
LIMIT_RANGES = Resource("", "v1", "limitranges")
DEPLOYMENTS = Resource("apps", "v1", "deployments")
NETWORK_POLICIES = Resource("networking.k8s.io", "v1", "networkpolicies")
ROLES = Resource("rbac.authorization.k8s.io", "v1", "roles")
ROLE_BINDINGS = Resource("rbac.authorization.k8s.io", "v1", "rolebindings")
CLUSTER_ROLES = Resource("rbac.authorization.k8s.io", "v1", "clusterroles", namespaced=False)
CLUSTER_ROLE_BINDINGS = Resource(
    "rbac.authorization.k8s.io", "v1", "clusterrolebindings", namespaced=False
)
AGENT_SESSIONS = Resource("cephalon.dev", "v1alpha1", "agentsessions")
PROVIDER_TENANTS = Resource("cephalon.dev", "v1alpha1", "providertenants", namespaced=False)

BY_KIND: dict[str, Resource] = {
    "Pod": PODS,
    "Secret": SECRETS,
    "ConfigMap": CONFIGMAPS,
    "Namespace": NAMESPACES,
    "Service": SERVICES,
    "ServiceAccount": SERVICE_ACCOUNTS,
    "PersistentVolumeClaim": PVCS,
    "ResourceQuota": QUOTAS,
    "LimitRange": LIMIT_RANGES,
    "Deployment": DEPLOYMENTS,
    "NetworkPolicy": NETWORK_POLICIES,
    "Role": ROLES,
    "RoleBinding": ROLE_BINDINGS,
    "ClusterRole": CLUSTER_ROLES,
    "ClusterRoleBinding": CLUSTER_ROLE_BINDINGS,
}


class KubeClient:
    """Async JSON client for any resource; make one per process in a startup hook."""

    def __init__(self, api: client.ApiClient) -> None:
        self._api = api

    @classmethod
    async def from_environment(cls) -> KubeClient:
        """In-cluster configuration when in a pod, else ``KUBECONFIG``/``~/.kube/config``."""
        try:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        except config.ConfigException:
            # kubernetes-asyncio reads KUBECONFIG at import time; read it now instead.
            await config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
        return cls(client.ApiClient())

    async def close(self) -> None:
        await self._api.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Obj:
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
            )
            raw = await response.read()
            if response.status >= 400:  # unread content means no ApiException is raised
                raise _error(response.status, raw)
            data: Obj = json.loads(raw or b"{}")
            return data
        except ApiException as e:
            raise _error(e.status or 0, e.body) from e
        except aiohttp.ClientError as e:
            raise KubeError(0, "NetworkError", str(e)) from e

    async def get(self, res: Resource, name: str, namespace: str | None = None) -> Obj | None:
        try:
            return await self.request("GET", res.path(namespace, name))
        except NotFound:
            return None

    async def list(
        self, res: Resource, namespace: str | None = None, *, labels: dict[str, str] | None = None
    ) -> list[Obj]:
        query = (
            {"labelSelector": ",".join(f"{k}={v}" for k, v in labels.items())} if labels else None
        )
        items: list[Obj] = (await self.request("GET", res.path(namespace), query=query))["items"]
        return items

    async def create(self, res: Resource, body: Obj) -> Obj:
        namespace = body["metadata"].get("namespace")
        return await self.request("POST", res.path(namespace), body=body)

    async def ensure(self, body: Obj, *, update: bool = True) -> Obj:
        """Create ``body``; if it exists, merge-patch it to the desired state (unless
        ``update`` is false, e.g. for pods, whose spec is immutable)."""
        res = BY_KIND[body["kind"]]
        meta = body["metadata"]
        try:
            return await self.create(res, body)
        except AlreadyExists:
            if not update:
                current = await self.get(res, meta["name"], meta.get("namespace"))
                if current is not None:
                    return current
                return await self.create(res, body)
            patch = {k: v for k, v in body.items() if k not in ("apiVersion", "kind", "status")}
            patch["metadata"] = {k: meta[k] for k in ("labels", "ownerReferences") if k in meta}
            return await self.patch(res, meta["name"], meta.get("namespace"), patch)

    async def patch(
        self,
        res: Resource,
        name: str,
        namespace: str | None,
        patch: Any,
        *,
        sub: str | None = None,
        patch_type: PatchType = "merge",
    ) -> Obj:
        return await self.request(
            "PATCH",
            res.path(namespace, name, sub),
            body=patch,
            content_type=_PATCH_TYPES[patch_type],
        )

    async def delete(self, res: Resource, name: str, namespace: str | None = None) -> bool:
        """Delete in the background; ``False`` when it was already gone."""
        try:
            await self.request(
                "DELETE",
                res.path(namespace, name),
                body={
                    "kind": "DeleteOptions",
                    "apiVersion": "v1",
                    "propagationPolicy": "Background",
                },
            )
        except NotFound:
            return False
        return True


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
        return (
            AlreadyExists(status, reason, message)
            if reason == "AlreadyExists"
            else Conflict(status, reason, message)
        )
    return KubeError(status, reason, message)
