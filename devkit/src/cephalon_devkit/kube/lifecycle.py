"""Object lifecycle vocabulary shared by the verbs and the background controllers:
timestamps, write options, finalizer names and "is this object being deleted"."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .resources import NAMESPACE_KEY
from .store import ResourceKey
from .types import KubeObject

CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
FOREGROUND_FINALIZER = "foregroundDeletion"


def now_rfc3339(delta_s: float = 0) -> str:
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=delta_s)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class WriteContext:
    """Per-request write options and the warnings to return in ``Warning`` headers."""

    dry_run: bool = False
    field_validation: str = "Warn"  # Strict | Warn | Ignore
    version: str | None = None
    warnings: list[str] = field(default_factory=list)


def pending_finalizers(rkey: ResourceKey, obj: KubeObject) -> list[str]:
    names = list(obj["metadata"].get("finalizers") or [])
    if rkey == NAMESPACE_KEY:
        names += list((obj.get("spec") or {}).get("finalizers") or [])
    return names


def is_terminating(obj: KubeObject | None) -> bool:
    return obj is not None and bool(obj["metadata"].get("deletionTimestamp"))
