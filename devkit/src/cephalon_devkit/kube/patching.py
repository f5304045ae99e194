"""The three patch formats the API server accepts, applied to plain JSON objects.

- JSON patch (RFC 6902, ``application/json-patch+json``), ``test`` included: a patch
  that decodes but does not apply is ``422`` (as the real server answers since 1.12),
  a patch that does not decode is ``400``.
- JSON merge patch (RFC 7386, ``application/merge-patch+json``).
- Strategic merge patch (``application/strategic-merge-patch+json``) for built-in
  kinds: lists with a patch merge key (containers, env, volumes, ports, ...) merge by
  key, ``$patch: delete|replace``, ``$setElementOrder/…``, ``$retainKeys`` and
  ``$deleteFromPrimitiveList/…`` directives as kubectl emits them.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import BadRequest, Invalid

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# Patch merge keys of the built-in types (from the Go struct tags), by field name.
# ``ports`` is ambiguous: containers merge by containerPort, Services by port.
_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}
# Primitive lists with patchStrategy=merge.
_MERGED_PRIMITIVE_LISTS = frozenset({"finalizers"})


# --- JSON patch -------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise BadRequest(f'invalid JSON pointer "{path}"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve_parent(doc: Any, parts: list[str], path: str) -> tuple[Any, str]:
    current = doc
    for part in parts[:-1]:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise Invalid.patch(f'doc is missing path: "{path}": missing value')
    return current, parts[-1]


def _get(doc: Any, path: str) -> Any:
    current = doc
    for part in _pointer(path):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise Invalid.patch(f'doc is missing path: "{path}": missing value')
    return current


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _resolve_parent(doc, parts, path)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise Invalid.patch(f'add operation does not apply: doc is missing path: "{path}"')
    else:
        raise Invalid.patch(f'add operation does not apply: doc is missing path: "{path}"')
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    parts = _pointer(path)
    if not parts:
        raise Invalid.patch("remove operation does not apply: cannot remove the root")
    parent, last = _resolve_parent(doc, parts, path)
    if isinstance(parent, dict) and last in parent:
        return doc, parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return doc, parent.pop(int(last))
    raise Invalid.patch(f'remove operation does not apply: doc is missing path: "{path}"')


def apply_json_patch(doc: Any, operations: Any) -> Any:
    """Apply an RFC 6902 patch to a copy of ``doc``; all or nothing."""
    if not isinstance(operations, list):
        raise BadRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise BadRequest("Unexpected kind: malformed JSON patch operation")
        kind, path = op["op"], op["path"]
        if not isinstance(path, str):
            raise BadRequest("Unexpected kind: malformed JSON patch path")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise BadRequest(f"Unexpected kind: {kind} operation has no value")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)
            if _pointer(path):
                doc, _ = _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "move":
            doc, value = _remove(doc, op.get("from", ""))
            doc = _add(doc, path, value)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op.get("from", ""))))
        elif kind == "test":
            try:
                actual = _get(doc, path)
            except Invalid:
                actual = _MISSING
            if actual != op["value"]:
                raise Invalid.patch(f"testing value {path} failed: test failed")
        else:
            raise BadRequest(f"Unexpected kind: {kind}")
    return doc


_MISSING = object()


# --- JSON merge patch -------------------------------------------------------------------


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


# --- strategic merge patch --------------------------------------------------------------


def _merge_key(field: str, path: tuple[str, ...]) -> str | None:
    if field == "ports":
        return "containerPort" if "containers" in path or "initContainers" in path else "port"
    return _MERGE_KEYS.get(field)


def apply_strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Apply a strategic merge patch to a copy of ``target`` (built-in kinds)."""
    if not isinstance(patch, dict):
        raise BadRequest(
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        )
    return _smp_map(copy.deepcopy(target) if isinstance(target, dict) else {}, patch, ())


def _smp_map(
    target: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]
) -> dict[str, Any]:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return {}
    retain = patch.get("$retainKeys")
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(target.get(name), list):
                target[name] = [v for v in target[name] if v not in value]
            continue
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            target[key] = _smp_map(target[key], value, (*path, key))
        elif isinstance(value, dict):
            target[key] = _smp_map({}, value, (*path, key))
        elif isinstance(value, list):
            target[key] = _smp_list(target.get(key), value, key, (*path, key))
        else:
            target[key] = copy.deepcopy(value)
    for name, order in orders.items():
        if isinstance(target.get(name), list):
            target[name] = _reorder(target[name], order, _merge_key(name, (*path, name)))
    if isinstance(retain, list):
        for key in list(target):
            if key not in retain:
                del target[key]
    return target


def _smp_list(current: Any, patch: list[Any], field: str, path: tuple[str, ...]) -> list[Any]:
    existing: list[Any] = current if isinstance(current, list) else []
    key = _merge_key(field, path)
    if key is None:
        if field in _MERGED_PRIMITIVE_LISTS:
            return existing + [v for v in patch if v not in existing]
        kept: list[Any] = copy.deepcopy(patch)
        return [v for v in kept if not (isinstance(v, dict) and "$patch" in v)]
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    result = list(existing)
    for item in patch:
        if not isinstance(item, dict):
            raise BadRequest(f"unable to find api field in struct for merge key {key!r}")
        index = next(
            (
                i
                for i, old in enumerate(result)
                if isinstance(old, dict) and old.get(key) == item.get(key)
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
            continue
        if index is None:
            result.append(_smp_map({}, item, path))
        else:
            result[index] = _smp_map(result[index], item, path)
    return result


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [ident(o) for o in order]
    ranked = {value: i for i, value in enumerate(wanted) if isinstance(value, str | int)}
    return sorted(items, key=lambda item: ranked.get(ident(item), len(ranked)))
