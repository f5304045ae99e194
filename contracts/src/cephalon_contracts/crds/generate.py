"""Pydantic models → ``apiextensions.k8s.io/v1`` CustomResourceDefinitions.

pydantic emits JSON Schema (``$ref``, ``anyOf`` with ``null``, ``const``); a CRD needs a
*structural* OpenAPI v3 schema: every node typed, references inlined, no ``anyOf`` for
optionality. :func:`structural_schema` does that translation and refuses constructs
it cannot express rather than emitting a schema the API server would reject.
"""

from __future__ import annotations

from typing import Any

import yaml

from ..resources import GROUP, VERSION, CrdInfo

JsonSchema = dict[str, Any]

_KEEP = {
    "type",
    "description",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "enum",
    "pattern",
    "format",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "default",
    "x-kubernetes-validations",
    "x-kubernetes-preserve-unknown-fields",
}


class SchemaTranslationError(Exception):
    """A model uses a JSON Schema construct that has no structural equivalent."""


def structural_schema(model_schema: JsonSchema) -> JsonSchema:
    """Translate a pydantic JSON schema (with ``$defs``) into a structural schema."""
    defs: dict[str, JsonSchema] = model_schema.get("$defs", {})
    return _translate(model_schema, defs, path="")


def _translate(node: JsonSchema, defs: dict[str, JsonSchema], path: str) -> JsonSchema:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        merged = {**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}
        return _translate(merged, defs, path)
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if b.get("type") != "null"]
        if len(branches) != 1:
            raise SchemaTranslationError(f"{path or '<root>'}: unions are not structural")
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if rest.get("default", 0) is None:
            del rest["default"]
        return _translate({**branches[0], **rest}, defs, path)
    if "const" in node:
        node = {**{k: v for k, v in node.items() if k != "const"}, "enum": [node["const"]]}
    unknown = set(node) - _KEEP - {"title", "$defs"}
    if unknown:
        raise SchemaTranslationError(f"{path or '<root>'}: unsupported keywords {sorted(unknown)}")
    if "type" not in node:
        raise SchemaTranslationError(f"{path or '<root>'}: every node needs a type")
    out: JsonSchema = {}
    for key in ("description", "type", "format", "enum", "pattern", "minLength", "maxLength"):
        if key in node:
            out[key] = node[key]
    for key in ("minimum", "maximum", "minItems", "maxItems", "default"):
        if key in node:
            out[key] = node[key]
    if "properties" in node:
        out["properties"] = {
            name: _translate(sub, defs, f"{path}.{name}")
            for name, sub in node["properties"].items()
        }
        if node.get("required"):
            out["required"] = list(node["required"])
    if "items" in node:
        out["items"] = _translate(node["items"], defs, f"{path}[]")
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out["additionalProperties"] = _translate(extra, defs, f"{path}.*")
    for key in ("x-kubernetes-validations", "x-kubernetes-preserve-unknown-fields"):
        if key in node:
            out[key] = node[key]
    return out


def crd_manifest(info: CrdInfo) -> dict[str, Any]:
    """The full CRD object for one kind."""
    spec = structural_schema(info.spec.model_json_schema(by_alias=True, mode="validation"))
    status = structural_schema(info.status.model_json_schema(by_alias=True, mode="validation"))
    status.setdefault("properties", {})["kopf"] = {
        "description": "Operator bookkeeping (kopf progress and diff-base); never pruned.",
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    spec["description"] = f"Desired state of the {info.kind}."
    status["description"] = f"Observed state of the {info.kind}, written only by the operator."
    schema = {
        "description": info.description,
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{info.plural}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "cephalon"},
        },
        "spec": {
            "group": GROUP,
            "scope": info.scope,
            "names": {
                "kind": info.kind,
                "listKind": f"{info.kind}List",
                "plural": info.plural,
                "singular": info.singular,
                "shortNames": list(info.short_names),
                "categories": ["cephalon"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": list(info.printer_columns),
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def render_crd_yaml(info: CrdInfo) -> str:
    """The CRD as committed under ``crds/``: stable key order, a generated-file header."""
    body = yaml.safe_dump(crd_manifest(info), sort_keys=False, width=100, allow_unicode=True)
    return "# Generated by `make crds` from cephalon_contracts.resources. Do not edit.\n" + body
