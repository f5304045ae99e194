"""``/openapi/v3``: enough for ``kubectl apply`` with validation on.

kubectl (1.27+) reads the per-group-version documents to learn whether the server
accepts ``fieldValidation`` on PATCH for a kind (then it sends ``Strict`` and leaves
validation to the server) and which patch types a kind accepts. Every path here
declares ``fieldValidation``, and only built-in kinds advertise strategic merge
patch, so kubectl computes JSON merge patches for custom resources as it does against
a real cluster. Custom resources also publish their CRD schema under
``components.schemas`` (for ``kubectl explain`` and client-side tools).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .patching import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH
from .resources import Registry, ResourceType

_QUERY_PARAMS = ("fieldValidation", "dryRun", "fieldManager", "pretty")


def gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _schema_name(rtype: ResourceType, version: str) -> str:
    reversed_group = (
        ".".join(reversed(rtype.group.split("."))) if rtype.group else "io.k8s.api.core"
    )
    return f"{reversed_group}.{version}.{rtype.kind}"


def _operation(
    rtype: ResourceType, version: str, action: str, op_id: str, body: bool, patch: bool = False
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": op_id,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {
            "group": rtype.group,
            "version": version,
            "kind": rtype.kind,
        },
        "responses": {"200": {"description": "OK"}},
        # kubectl looks for fieldValidation among the PATCH operation's own parameters.
        "parameters": [
            {"name": p, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
            for p in _QUERY_PARAMS
        ],
    }
    if body:
        types = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH] if patch else ["application/json"]
        if patch and not rtype.custom:
            types.insert(2, STRATEGIC_MERGE_PATCH)
        operation["requestBody"] = {"content": {t: {"schema": {"type": "object"}} for t in types}}
    return operation


def group_version_document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    if not registry.has_group_version(group, version):
        return None
    base = "/" + gv_path(group, version)
    params = [
        {"name": p, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
        for p in _QUERY_PARAMS
    ]
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for rtype in registry.in_group_version(group, version):
        prefix = f"{base}/namespaces/{{namespace}}" if rtype.namespaced else base
        collection = f"{prefix}/{rtype.plural}"
        item = f"{collection}/{{name}}"
        kind = rtype.kind
        paths[collection] = {
            "get": _operation(rtype, version, "list", f"list{kind}", False),
            "post": _operation(rtype, version, "post", f"create{kind}", True),
            "parameters": params,
        }
        paths[item] = {
            "get": _operation(rtype, version, "get", f"read{kind}", False),
            "put": _operation(rtype, version, "put", f"replace{kind}", True),
            "patch": _operation(rtype, version, "patch", f"patch{kind}", True, patch=True),
            "delete": _operation(rtype, version, "delete", f"delete{kind}", False),
            "parameters": params,
        }
        if rtype.has_status:
            paths[f"{item}/status"] = {
                "get": _operation(rtype, version, "get", f"read{kind}Status", False),
                "put": _operation(rtype, version, "put", f"replace{kind}Status", True),
                "patch": _operation(
                    rtype, version, "patch", f"patch{kind}Status", True, patch=True
                ),
                "parameters": params,
            }
        schema = rtype.schemas.get(version)
        if schema is not None:
            schemas[_schema_name(rtype, version)] = {
                **schema,
                "x-kubernetes-group-version-kind": [
                    {"group": rtype.group, "version": version, "kind": kind}
                ],
            }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (cephalon emulator)", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def root_document(registry: Registry) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for group, version in registry.group_versions():
        document = group_version_document(registry, group, version)
        digest = (
            hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32].upper()
        )
        path = gv_path(group, version)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}
