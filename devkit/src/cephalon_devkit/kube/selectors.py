"""Label selectors (equality- and set-based) and field selectors, as the API parses them.

Parsing errors become ``400 BadRequest`` with the API server's wording; a field the
resource does not index is refused (``field label not supported``) rather than
silently matching everything, which would hide a client bug.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import BadRequest
from .types import KubeObject

_FIELDS_ALWAYS = frozenset({"metadata.name", "metadata.namespace"})
_FIELDS_BY_RESOURCE: dict[tuple[str, str], frozenset[str]] = {
    ("", "pods"): frozenset(
        {
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
        }
    ),
    ("", "events"): frozenset(
        {
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        }
    ),
    ("events.k8s.io", "events"): frozenset(
        {
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "reason",
            "reportingController",
            "type",
        }
    ),
    ("", "secrets"): frozenset({"type"}),
    ("", "namespaces"): frozenset({"status.phase"}),
}
_KEY = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if self.op in ("gt", "lt"):
            try:
                number = int(value or "")
            except ValueError:
                return False
            bound = int(self.values[0])
            return number > bound if self.op == "gt" else number < bound
        raise AssertionError(self.op)


@dataclass(frozen=True, slots=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, obj: KubeObject) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _check_key(key: str, whole: str) -> str:
    if not _KEY.match(key):
        raise BadRequest(f"unable to parse requirement: invalid label key {key!r} in {whole!r}")
    return key


_SET_RE = re.compile(r"^(\S+)\s+(in|notin)\s*\((.*)\)$")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse ``app=x,tier!=db,env in (a,b),!legacy,release`` into a selector."""
    if not text:
        return LabelSelector()
    requirements: list[Requirement] = []
    for part in _split_top_level(text):
        match = _SET_RE.match(part)
        if match:
            key, op, values = match.groups()
            items = tuple(v.strip() for v in values.split(",") if v.strip())
            if not items:
                raise BadRequest(f"unable to parse requirement: {part!r}: values set is empty")
            requirements.append(Requirement(_check_key(key, text), op, items))
            continue
        for token, op in (("!=", "!="), ("==", "="), ("=", "="), (">", "gt"), ("<", "lt")):
            if token in part:
                key, _, value = part.partition(token)
                key, value = key.strip(), value.strip()
                if op in ("gt", "lt") and not value.lstrip("-").isdigit():
                    raise BadRequest(
                        f"unable to parse requirement: for 'Gt', 'Lt' operators, the value"
                        f" must be an integer: {part!r}"
                    )
                requirements.append(Requirement(_check_key(key, text), op, (value,)))
                break
        else:
            if part.startswith("!"):
                requirements.append(Requirement(_check_key(part[1:].strip(), text), "!"))
            elif " " in part:
                raise BadRequest(
                    f"unable to parse requirement: found '{part}', expected:"
                    " in, notin, =, ==, !=, gt, lt"
                )
            else:
                requirements.append(Requirement(_check_key(part, text), "exists"))
    return LabelSelector(tuple(requirements))


@dataclass(frozen=True, slots=True)
class FieldSelector:
    terms: tuple[tuple[str, bool, str], ...] = ()  # (field, equal?, value)

    def matches(self, obj: KubeObject) -> bool:
        for path, equal, value in self.terms:
            actual = field_value(obj, path)
            if (actual == value) != equal:
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.terms

    def name(self) -> str | None:
        """The single name an equality ``metadata.name`` term pins, for O(1) lookups."""
        for path, equal, value in self.terms:
            if path == "metadata.name" and equal:
                return value
        return None


def field_value(obj: KubeObject, path: str) -> str:
    current: Any = obj
    for part in path.split("."):
        current = current.get(part) if isinstance(current, dict) else None
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def parse_field_selector(text: str | None, resource_key: tuple[str, str]) -> FieldSelector:
    """Parse ``metadata.name=x,status.phase!=Running`` for one resource type."""
    if not text:
        return FieldSelector()
    supported = _FIELDS_ALWAYS | _FIELDS_BY_RESOURCE.get(resource_key, frozenset())
    terms: list[tuple[str, bool, str]] = []
    for part in _split_top_level(text):
        token = next((t for t in ("!=", "==", "=") if t in part), None)
        if token is not None:
            path, _, value = part.partition(token)
            equal = token != "!="
        else:
            raise BadRequest(f"invalid selector: '{text}'; can't understand '{part}'")
        path = path.strip()
        if path not in supported:
            raise BadRequest(f"field label not supported: {path}")
        terms.append((path, equal, value.strip()))
    return FieldSelector(tuple(terms))
