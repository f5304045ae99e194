"""Validate, default and prune objects against a CRD's structural schema.

This follows what ``kube-apiserver`` does with a custom object, in its order: prune
fields the schema does not declare (unless ``x-kubernetes-preserve-unknown-fields``),
apply ``default``\\ s, then validate types, formats, enums, patterns, bounds, required
fields and the CEL transition rules our CRDs use. Messages copy the API server's
wording (``spec.tenant: Invalid value: "Duck": spec.tenant in body should match ...``)
so that ``kubectl`` users see what a real cluster would show them.

Only the CEL rule ``self == oldSelf`` is understood; any other rule is reported as
unsupported instead of being silently skipped.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

JsonSchema = Mapping[str, Any]

_TYPE_CHECKS: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}
_SUPPORTED_RULES = {"self == oldSelf"}


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem, as the API server's ``StatusCause`` describes it."""

    field: str
    reason: str  # FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, ...
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _go_quote(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _type_name(value: Any) -> str:
    for name in ("boolean", "integer", "number", "string", "array", "object"):
        if _TYPE_CHECKS[name](value):
            return name
    return "null"


def prune_unknown(schema: JsonSchema, obj: Any, path: str = "") -> list[str]:
    """Remove undeclared fields from ``obj`` in place; return their paths."""
    removed: list[str] = []
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return removed
    if isinstance(obj, dict) and schema.get("type") == "object":
        props: Mapping[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key in list(obj):
            child = f"{path}.{key}" if path else key
            if path == "" and key in ("apiVersion", "kind", "metadata"):
                continue  # the API server handles these itself, never by the schema
            if key in props:
                removed += prune_unknown(props[key], obj[key], child)
            elif isinstance(extra, Mapping):
                removed += prune_unknown(extra, obj[key], child)
            else:
                removed.append(child)
                del obj[key]
    elif isinstance(obj, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(obj):
            removed += prune_unknown(schema["items"], item, f"{path}[{i}]")
    return removed


def apply_defaults(schema: JsonSchema, obj: Any) -> None:
    """Fill in ``default`` values for absent properties, recursively, in place."""
    if isinstance(obj, dict) and schema.get("type") == "object":
        for key, sub in schema.get("properties", {}).items():
            if key not in obj and "default" in sub:
                obj[key] = copy.deepcopy(sub["default"])
            if key in obj:
                apply_defaults(sub, obj[key])
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            for value in obj.values():
                apply_defaults(extra, value)
    elif isinstance(obj, list) and isinstance(schema.get("items"), Mapping):
        for item in obj:
            apply_defaults(schema["items"], item)


def validate_object(
    schema: JsonSchema, obj: Any, *, old: Any = None, path: str = ""
) -> list[FieldError]:
    """All problems of ``obj`` against ``schema``; ``old`` enables transition rules."""
    errors: list[FieldError] = []
    _validate(schema, obj, old, path, errors, has_old=old is not None)
    return errors


def _validate(
    schema: JsonSchema, value: Any, old: Any, path: str, errors: list[FieldError], has_old: bool
) -> None:
    field = path or "<root>"
    if value is None:
        if not schema.get("nullable"):
            errors.append(
                FieldError(
                    field,
                    "FieldValueTypeInvalid",
                    f'Invalid value: "null": {field} in'
                    f' body must be of type {schema.get("type", "object")}: "null"',
                )
            )
        return
    expected = schema.get("type")
    if expected and not _TYPE_CHECKS[expected](value):
        errors.append(
            FieldError(
                field,
                "FieldValueTypeInvalid",
                f'Invalid value: "{_type_name(value)}": {field} in body must be of type'
                f' {expected}: "{_type_name(value)}"',
            )
        )
        return
    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(_go_quote(v) for v in schema["enum"])
        errors.append(
            FieldError(
                field,
                "FieldValueNotSupported",
                f"Unsupported value: {_go_quote(value)}: supported values: {supported}",
            )
        )
    if isinstance(value, str):
        _validate_string(schema, value, field, errors)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(
                FieldError(
                    field,
                    "FieldValueInvalid",
                    f"Invalid value: {_go_quote(value)}: {field} in body should be greater than"
                    f" or equal to {schema['minimum']}",
                )
            )
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(
                FieldError(
                    field,
                    "FieldValueInvalid",
                    f"Invalid value: {_go_quote(value)}: {field} in body should be less than or"
                    f" equal to {schema['maximum']}",
                )
            )
    elif isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(
                FieldError(
                    field,
                    "FieldValueTooMany",
                    f"Too many: {len(value)}: must have at most {schema['maxItems']} items",
                )
            )
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(
                FieldError(
                    field,
                    "FieldValueInvalid",
                    f"Invalid value: {len(value)}: {field} in body should have at least"
                    f" {schema['minItems']} items",
                )
            )
        items = schema.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(value):
                _validate(items, item, None, f"{path}[{i}]", errors, False)
    elif isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                child = f"{path}.{name}" if path else name
                errors.append(FieldError(child, "FieldValueRequired", "Required value"))
        props: Mapping[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            sub = props.get(key, extra if isinstance(extra, Mapping) else None)
            if sub is None:
                continue
            old_item = old.get(key) if has_old and isinstance(old, dict) else None
            _validate(sub, item, old_item, child, errors, has_old and old_item is not None)
    for rule in schema.get("x-kubernetes-validations", []):
        _check_rule(rule, value, old, field, errors, has_old)


def _validate_string(schema: JsonSchema, value: str, field: str, errors: list[FieldError]) -> None:
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(
            FieldError(
                field,
                "FieldValueTooLong",
                f"Too long: may not be more than {schema['maxLength']} bytes",
            )
        )
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(
            FieldError(
                field,
                "FieldValueInvalid",
                f"Invalid value: {_go_quote(value)}: {field} in body should be at least"
                f" {schema['minLength']} chars long",
            )
        )
    pattern = schema.get("pattern")
    if pattern is not None and re.search(pattern, value) is None:
        errors.append(
            FieldError(
                field,
                "FieldValueInvalid",
                f"Invalid value: {_go_quote(value)}: {field} in body should match '{pattern}'",
            )
        )
    if schema.get("format") == "date-time":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            errors.append(
                FieldError(
                    field,
                    "FieldValueInvalid",
                    f"Invalid value: {_go_quote(value)}: {field} in body must be of type date-time",
                )
            )


def _check_rule(
    rule: Mapping[str, Any],
    value: Any,
    old: Any,
    field: str,
    errors: list[FieldError],
    has_old: bool,
) -> None:
    expression = rule.get("rule", "")
    if expression not in _SUPPORTED_RULES:
        errors.append(
            FieldError(field, "InternalError", f"Internal error: unsupported rule {expression!r}")
        )
        return
    if has_old and value != old:  # transition rules apply only on update
        message = rule.get("message") or f"failed rule: {expression}"
        errors.append(
            FieldError(
                field, "FieldValueInvalid", f'Invalid value: "{_type_name(value)}": {message}'
            )
        )
