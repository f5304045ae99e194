"""Pure functions from what exists (pod, heartbeat) to AgentSession/ProviderTenant status.

Conditions follow ``metav1.Condition``: ``lastTransitionTime`` changes only when the
status flips, so repeated reconciles write nothing new.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cephalon_contracts.heartbeat import Heartbeat

Obj = dict[str, Any]


def rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def condition(kind: str, status: bool | None, reason: str, message: str, now: datetime) -> Obj:
    value = "Unknown" if status is None else ("True" if status else "False")
    return {
        "type": kind,
        "status": value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": rfc3339(now),
    }


def merge_conditions(current: list[Obj] | None, updates: list[Obj]) -> list[Obj]:
    """``current`` with ``updates`` applied, keeping transition times of unchanged ones."""
    by_type = {c["type"]: c for c in current or []}
    for new in updates:
        old = by_type.get(new["type"])
        if old and old.get("status") == new["status"]:
            new = {
                **new,
                "lastTransitionTime": old.get("lastTransitionTime", new["lastTransitionTime"]),
            }
        by_type[new["type"]] = new
    order = [
        "PodScheduled",
        "RuntimeReady",
        "McpReady",
        "NamespaceReady",
        "CredentialsValid",
        "GatewayReady",
        "ModelGatewayReady",
        "Ready",
    ]
    return sorted(
        by_type.values(),
        key=lambda c: (order.index(c["type"]) if c["type"] in order else 99, c["type"]),
    )


def conditions_changed(current: list[Obj] | None, merged: list[Obj]) -> bool:
    strip = [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in current or []]
    return strip != [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in merged]


def pod_conditions(
    pod: Obj | None, heartbeat: Heartbeat | None, now: datetime, stale_after: float
) -> list[Obj]:
    """PodScheduled, RuntimeReady, McpReady and Ready for a session."""
    if pod is None:
        return [
            condition("PodScheduled", False, "NoPod", "The session has no pod.", now),
            condition("RuntimeReady", False, "NoPod", "The session has no pod.", now),
            condition("McpReady", None, "NoPod", "The session has no pod.", now),
            condition("Ready", False, "NoPod", "The session has no pod.", now),
        ]
    pod_status: Obj = pod.get("status") or {}
    scheduled = next(
        (c for c in pod_status.get("conditions", []) if c.get("type") == "PodScheduled"), None
    )
    scheduled_ok = bool(scheduled and scheduled.get("status") == "True")
    runtime = next(
        (c for c in pod_status.get("containerStatuses", []) if c.get("name") == "runtime"), None
    )
    fresh = heartbeat is not None and (now - heartbeat.at).total_seconds() <= stale_after
    runtime_ok = (
        bool(runtime and runtime.get("ready")) and fresh and bool(heartbeat and heartbeat.ready)
    )
    if runtime_ok:
        runtime_reason, runtime_msg = "Ready", "The agent runtime is consuming turns."
    elif runtime is None:
        runtime_reason, runtime_msg = "ContainerCreating", "The runtime container has not started."
    elif not runtime.get("ready"):
        waiting = (runtime.get("state") or {}).get("waiting") or {}
        runtime_reason = waiting.get("reason", "NotReady")
        runtime_msg = waiting.get("message", "The runtime is starting.")
    else:
        runtime_reason, runtime_msg = "NoHeartbeat", "The runtime has not reported in yet."
    mcp, mcp_reason, mcp_msg = _mcp_condition(heartbeat if fresh else None)
    ready = scheduled_ok and runtime_ok and mcp is not False
    return [
        condition(
            "PodScheduled",
            scheduled_ok,
            "Scheduled" if scheduled_ok else "Pending",
            "The pod is scheduled." if scheduled_ok else "Waiting for a node.",
            now,
        ),
        condition("RuntimeReady", runtime_ok, runtime_reason, runtime_msg, now),
        condition("McpReady", mcp, mcp_reason, mcp_msg, now),
        condition(
            "Ready",
            ready,
            "Ready" if ready else "NotReady",
            "The session is ready for turns." if ready else "The session is starting.",
            now,
        ),
    ]


def _mcp_condition(heartbeat: Heartbeat | None) -> tuple[bool | None, str, str]:
    if heartbeat is None:
        return None, "Unknown", "No MCP health reported yet."
    if not heartbeat.mcp:
        return True, "NoServers", "The session uses no MCP servers."
    down = sorted(name for name, ok in heartbeat.mcp.items() if not ok)
    if down:
        return False, "ServerDown", f"Not answering: {', '.join(down)}."
    return True, "Healthy", "All MCP servers answer."
