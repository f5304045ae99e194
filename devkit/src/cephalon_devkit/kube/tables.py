"""Server-side printing: ``kubectl get`` asks for ``as=Table`` and prints what it gets.

Custom resources get their CRD's ``additionalPrinterColumns`` (evaluated with the
simple JSONPath subset CRDs allow, ``date`` columns rendered as ages, as the real
server's table convertor does); built-ins get the columns kubectl users expect for
pods and namespaces and ``Name``/``Age`` otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from .resources import ResourceType
from .types import KubeObject, PrinterColumn

_TOKEN = re.compile(
    r"""\.(?P<name>[A-Za-z0-9_\-/]+)
      |\[(?P<index>-?\d+|\*)\]
      |\['(?P<quoted>[^']+)'\]
      |\[\?\(@\.(?P<fpath>[A-Za-z0-9_.\-]+)\s*(?P<fop>==|!=)\s*(?P<fval>"[^"]*"|'[^']*'|[^)\s]+)\)\]""",
    re.VERBOSE,
)


def jsonpath(obj: Any, expression: str) -> list[Any]:
    """Evaluate ``.a.b[0].c[?(@.type=="Ready")].status`` (no recursion, no unions)."""
    expression = expression.strip()
    if expression.startswith("{") and expression.endswith("}"):
        expression = expression[1:-1]
    results: list[Any] = [obj]
    position = 0
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None:
            return []
        position = match.end()
        following: list[Any] = []
        for current in results:
            if match.group("name") is not None or match.group("quoted") is not None:
                key = match.group("name") or match.group("quoted")
                if isinstance(current, dict) and key in current:
                    following.append(current[key])
            elif match.group("index") is not None:
                if isinstance(current, list):
                    index = match.group("index")
                    if index == "*":
                        following += current
                    elif -len(current) <= int(index) < len(current):
                        following.append(current[int(index)])
            else:
                wanted = match.group("fval").strip("\"'")
                equal = match.group("fop") == "=="
                items = current if isinstance(current, list) else []
                for item in items:
                    got = jsonpath(item, "." + match.group("fpath"))
                    value = _render(got[0]) if got else None
                    if (value == wanted) == equal:
                        following.append(item)
        results = following
    return results


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def human_duration(seconds: float) -> str:
    """``duration.HumanDuration`` from apimachinery: 45s, 3m12s, 5h, 2d3h, 400d, 3y."""
    if seconds < -1:
        return "<invalid>"
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def age(timestamp: Any) -> str:
    if not isinstance(timestamp, str) or not timestamp:
        return "<unknown>"
    try:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "<invalid>"
    return human_duration((datetime.now(UTC) - moment).total_seconds())


_NAME_COLUMN: PrinterColumn = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "description": "Name must be unique within a namespace.",
    "priority": 0,
}
_AGE_COLUMN: PrinterColumn = {
    "name": "Age",
    "type": "date",
    "description": "CreationTimestamp is a timestamp representing the server time when this"
    " object was created.",
    "priority": 0,
    "jsonPath": ".metadata.creationTimestamp",
}


def _columns(rtype: ResourceType, version: str) -> list[PrinterColumn]:
    if rtype.custom:
        declared = list(rtype.printer_columns.get(version, ()))
        return declared or [_AGE_COLUMN]
    if rtype.kind == "Pod":
        return [
            {
                "name": "Ready",
                "type": "string",
                "priority": 0,
                "description": "The aggregate readiness state of this pod for accepting traffic.",
            },
            {
                "name": "Status",
                "type": "string",
                "priority": 0,
                "description": "The aggregate status of the containers in this pod.",
            },
            {
                "name": "Restarts",
                "type": "string",
                "priority": 0,
                "description": "The number of times the containers in this pod have been"
                " restarted.",
            },
            _AGE_COLUMN,
        ]
    if rtype.kind == "Namespace":
        return [
            {
                "name": "Status",
                "type": "string",
                "priority": 0,
                "jsonPath": ".status.phase",
                "description": "The status of the namespace",
            },
            _AGE_COLUMN,
        ]
    return [_AGE_COLUMN]


def _pod_cells(obj: KubeObject) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for s in statuses:
        waiting = (s.get("state") or {}).get("waiting") or {}
        terminated = (s.get("state") or {}).get("terminated") or {}
        if waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated.get("reason") and not s.get("ready"):
            reason = terminated["reason"]
    if obj["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    total = len(spec.get("containers") or [])
    return [
        f"{ready}/{total}",
        reason,
        str(restarts),
        age(obj["metadata"].get("creationTimestamp")),
    ]


def _cell(column: PrinterColumn, obj: KubeObject) -> Any:
    found = jsonpath(obj, column.get("jsonPath", ""))
    if not found or found[0] is None:
        return None
    value = found[0]
    kind = column.get("type", "string")
    if kind == "date":
        return age(value)
    if kind == "integer" and isinstance(value, int):
        return value
    if kind == "number" and isinstance(value, int | float):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    return _render(value)


def _row_object(obj: KubeObject, include: str) -> KubeObject | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def to_table(
    rtype: ResourceType,
    version: str,
    objects: Sequence[KubeObject],
    *,
    resource_version: str = "",
    include_object: str = "Metadata",
    with_columns: bool = True,
) -> KubeObject:
    columns = _columns(rtype, version)
    rows = []
    for obj in objects:
        cells: list[Any] = [obj["metadata"]["name"]]
        if rtype.kind == "Pod" and not rtype.custom:
            cells += _pod_cells(obj)
        else:
            cells += [_cell(c, obj) for c in columns]
        row: dict[str, Any] = {"cells": cells}
        inner = _row_object(obj, include_object)
        if inner is not None:
            row["object"] = inner
        rows.append(row)
    definitions = [
        {
            "name": c["name"],
            "type": c.get("type", "string"),
            "format": c.get("format", ""),
            "description": c.get("description", ""),
            "priority": c.get("priority", 0),
        }
        for c in [_NAME_COLUMN, *columns]
    ]
    table: KubeObject = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "rows": rows,
    }
    if with_columns:
        table["columnDefinitions"] = definitions
    return table
