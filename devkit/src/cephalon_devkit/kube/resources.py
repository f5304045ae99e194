"""What the emulator serves: built-in resource types and those CRDs add at run time.

A :class:`ResourceType` is the emulator's version of an ``APIResource`` discovery entry
plus what the write path needs (status subresource, CRD schema, printer columns).
:class:`Registry` is per server instance: a CRD becomes servable when it is created
and stops being served when it is removed, like the real API server.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .types import KubeObject, PrinterColumn

ALL_VERBS = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One served resource (e.g. ``pods`` in ``v1``, ``agentsessions`` in ``cephalon.dev``)."""

    group: str
    versions: tuple[str, ...]
    kind: str
    plural: str
    singular: str
    namespaced: bool
    has_status: bool = False
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """``openAPIV3Schema`` per version (custom resources only)."""
    printer_columns: Mapping[str, tuple[PrinterColumn, ...]] = field(default_factory=dict)
    custom: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def storage_version(self) -> str:
        return self.versions[0]

    def api_version(self, version: str | None = None) -> str:
        version = version or self.storage_version
        return f"{self.group}/{version}" if self.group else version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


def _core(
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    status: bool = False,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
) -> ResourceType:
    return ResourceType(
        group="",
        versions=("v1",),
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        has_status=status,
        short_names=short,
        categories=categories,
    )


def _grouped(
    group: str,
    kind: str,
    plural: str,
    *,
    namespaced: bool = True,
    status: bool = False,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
) -> ResourceType:
    return ResourceType(
        group=group,
        versions=("v1",),
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        has_status=status,
        short_names=short,
        categories=categories,
    )


def builtin_types() -> list[ResourceType]:
    """The built-in kinds issue 3 asks for, with the real discovery names."""
    return [
        _core("Namespace", "namespaces", namespaced=False, status=True, short=("ns",)),
        _core("Pod", "pods", status=True, short=("po",), categories=("all",)),
        _core("Secret", "secrets"),
        _core("ConfigMap", "configmaps", short=("cm",)),
        _core("ServiceAccount", "serviceaccounts", short=("sa",)),
        _core("Service", "services", status=True, short=("svc",), categories=("all",)),
        _core("Event", "events", short=("ev",)),
        # Beyond issue 3's list: kinds the operator and the Helm chart write.
        _core("PersistentVolumeClaim", "persistentvolumeclaims", status=True, short=("pvc",)),
        _core("LimitRange", "limitranges", short=("limits",)),
        _core("ResourceQuota", "resourcequotas", status=True, short=("quota",)),
        _core("Node", "nodes", namespaced=False, status=True, short=("no",)),
        _grouped(
            "apps", "StatefulSet", "statefulsets", status=True, short=("sts",), categories=("all",)
        ),
        _grouped(
            "policy", "PodDisruptionBudget", "poddisruptionbudgets", status=True, short=("pdb",)
        ),
        _grouped("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", namespaced=False),
        _grouped(
            "rbac.authorization.k8s.io",
            "ClusterRoleBinding",
            "clusterrolebindings",
            namespaced=False,
        ),
        # What the operator builds for a tenant's session namespace and workspaces:
        _core("ResourceQuota", "resourcequotas", status=True, short=("quota",)),
        _core("LimitRange", "limitranges", short=("limits",)),
        _core("PersistentVolumeClaim", "persistentvolumeclaims", status=True, short=("pvc",)),
        _grouped(
            "apps", "Deployment", "deployments", status=True, short=("deploy",), categories=("all",)
        ),
        _grouped("networking.k8s.io", "NetworkPolicy", "networkpolicies", short=("netpol",)),
        _grouped("rbac.authorization.k8s.io", "Role", "roles"),
        _grouped("rbac.authorization.k8s.io", "RoleBinding", "rolebindings"),
        _grouped("coordination.k8s.io", "Lease", "leases"),
        _grouped("events.k8s.io", "Event", "events", short=("ev",)),
        _grouped(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            namespaced=False,
            status=True,
            short=("crd", "crds"),
        ),
    ]


CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACE_KEY = ("", "namespaces")
POD_KEY = ("", "pods")


def type_from_crd(crd: KubeObject) -> ResourceType:
    """The resource type a (validated) CRD object declares; served versions only."""
    spec = crd["spec"]
    names = spec["names"]
    versions = [v for v in spec["versions"] if v.get("served", True)]
    # The storage version first: it is the one objects are written in.
    versions.sort(key=lambda v: not v.get("storage", False))
    schemas: dict[str, Mapping[str, Any]] = {}
    columns: dict[str, tuple[PrinterColumn, ...]] = {}
    has_status = False
    for version in versions:
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema:
            schemas[version["name"]] = schema
        columns[version["name"]] = tuple(version.get("additionalPrinterColumns") or ())
        if "status" in (version.get("subresources") or {}):
            has_status = True
    return ResourceType(
        group=spec["group"],
        versions=tuple(v["name"] for v in versions),
        kind=names["kind"],
        plural=names["plural"],
        singular=names.get("singular") or names["kind"].lower(),
        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
        has_status=has_status,
        short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()),
        schemas=schemas,
        printer_columns=columns,
        custom=True,
    )


class Registry:
    """The resource types one server currently serves, looked up in O(1)."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], ResourceType] = {}
        self._by_gv: dict[tuple[str, str], dict[str, ResourceType]] = {}
        for rtype in builtin_types():
            self.add(rtype)

    def add(self, rtype: ResourceType) -> None:
        old = self._by_key.get(rtype.key)
        if old is not None:
            self.remove(old)
        self._by_key[rtype.key] = rtype
        for version in rtype.versions:
            self._by_gv.setdefault((rtype.group, version), {})[rtype.plural] = rtype

    def remove(self, rtype: ResourceType) -> None:
        self._by_key.pop(rtype.key, None)
        for version in rtype.versions:
            served = self._by_gv.get((rtype.group, version))
            if served is not None:
                served.pop(rtype.plural, None)
                if not served:
                    del self._by_gv[(rtype.group, version)]

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gv.get((group, version), {}).get(plural)

    def by_key(self, key: tuple[str, str]) -> ResourceType | None:
        return self._by_key.get(key)

    def group_versions(self) -> Iterator[tuple[str, str]]:
        yield from sorted(self._by_gv)

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return sorted(self._by_gv.get((group, version), {}).values(), key=lambda r: r.plural)

    def has_group_version(self, group: str, version: str) -> bool:
        return (group, version) in self._by_gv

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._by_key.values()))
