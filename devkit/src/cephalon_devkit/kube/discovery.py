"""Discovery documents (``/api``, ``/apis``, ``/api/v1``, ``/apis/<g>/<v>``, ``/version``).

Legacy (unaggregated) discovery only: clients that ask for aggregated discovery
(``apidiscovery.k8s.io/v2``) accept a plain ``application/json`` answer and fall back,
as they do against older servers. Documents are rebuilt from the registry on every
request, so a CRD is discoverable as soon as it is created.
"""

from __future__ import annotations

from typing import Any

from .resources import ALL_VERBS, Registry, ResourceType

SERVER_VERSION = {"major": "1", "minor": "32"}
"""Reported version; kubectl's version dispatcher picks its client from it."""


def version_info() -> dict[str, Any]:
    return {
        **SERVER_VERSION,
        "gitVersion": f"v{SERVER_VERSION['major']}.{SERVER_VERSION['minor']}.0-cephalon",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(registry: Registry, group: str) -> dict[str, Any]:
    versions = [v for g, v in registry.group_versions() if g == group]
    # Prefer the newest stable-looking version, as kube's version priority does roughly.
    versions.sort(key=_version_priority)
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def _version_priority(version: str) -> tuple[int, str]:
    if "alpha" in version:
        return (2, version)
    if "beta" in version:
        return (1, version)
    return (0, version)


def api_group_list(registry: Registry) -> dict[str, Any]:
    groups = sorted({g for g, _ in registry.group_versions() if g})
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(registry, g) for g in groups],
    }


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    if not any(g == group for g, _ in registry.group_versions()):
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(registry, group)}


def _entry(rtype: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": rtype.plural,
        "singularName": rtype.singular,
        "namespaced": rtype.namespaced,
        "kind": rtype.kind,
        "verbs": list(ALL_VERBS),
    }
    if rtype.short_names:
        main["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        main["categories"] = list(rtype.categories)
    entries = [main]
    if rtype.has_status:
        entries.append(
            {
                "name": f"{rtype.plural}/status",
                "singularName": "",
                "namespaced": rtype.namespaced,
                "kind": rtype.kind,
                "verbs": ["get", "patch", "update"],
            }
        )
    if rtype.kind == "Pod" and not rtype.group:
        entries.append(
            {
                "name": "pods/binding",
                "singularName": "",
                "namespaced": True,
                "kind": "Binding",
                "verbs": ["create"],
            }
        )
    if rtype.kind == "Namespace":
        entries.append(
            {
                "name": "namespaces/finalize",
                "singularName": "",
                "namespaced": False,
                "kind": "Namespace",
                "verbs": ["update"],
            }
        )
    return entries


def api_resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    if not registry.has_group_version(group, version):
        return None
    resources: list[dict[str, Any]] = []
    for rtype in registry.in_group_version(group, version):
        resources += _entry(rtype)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }
