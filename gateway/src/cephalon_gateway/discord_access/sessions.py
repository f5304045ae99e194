"""AgentSessions as the gateway sees them: an index by channel kept current by a list
and watch of the tenant's session namespace, plus the writes the gateway may make
(create, the wake annotation, ``spec.lifecycle.state: Ended``).

The gateway created every session it drives, so it may patch their spec; ``status``
belongs to the operator and is only read here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import ValidationError

from cephalon_contracts.resources import (
    API_VERSION,
    AgentSessionSpec,
    AgentSessionStatus,
    SessionPhase,
    SessionState,
)

from .errors import AlreadyExists, KubeError
from .kube import AGENT_SESSIONS, KubeClient, Obj

log = structlog.get_logger(__name__)

WAKE_ANNOTATION = "cephalon.dev/wake"
TERMINAL = {SessionPhase.ENDED, SessionPhase.FAILED}


def rfc3339(moment: datetime) -> str:
    """The operator's timestamp form (it compares the wake annotation as a string)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def session_name(interaction_id: str) -> str:
    """The AgentSession name (and session id) for a Start Chat interaction: a retried or
    redelivered click names the same object."""
    return f"s-{interaction_id}"


@dataclass(frozen=True, slots=True)
class SessionRecord:
    name: str
    spec: AgentSessionSpec
    status: AgentSessionStatus
    created_at: str = ""
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def channel_id(self) -> str:
        return self.spec.conversation.channel

    @property
    def owner_id(self) -> str:
        return self.spec.owner.id

    @property
    def phase(self) -> SessionPhase:
        return self.status.phase

    @property
    def active(self) -> bool:
        """Counts against quotas: not ended, failed or asked to end."""
        return self.phase not in TERMINAL and self.spec.lifecycle.state != SessionState.ENDED

    @classmethod
    def from_object(cls, obj: Obj) -> SessionRecord | None:
        meta = obj.get("metadata") or {}
        try:
            spec = AgentSessionSpec.model_validate(obj.get("spec") or {})
            status = AgentSessionStatus.model_validate(obj.get("status") or {})
        except ValidationError as e:
            log.warning("session_unreadable", session_id=meta.get("name"), error=str(e)[:300])
            return None
        return cls(
            name=str(meta.get("name")),
            spec=spec,
            status=status,
            created_at=str(meta.get("creationTimestamp") or ""),
            annotations=dict(meta.get("annotations") or {}),
        )


StatusListener = Callable[[SessionRecord, SessionRecord | None], Awaitable[None]]


class Sessions:
    """The tenant's AgentSessions: reads from the watched index, writes to the API."""

    def __init__(self, kube: KubeClient, namespace: str, *, provider: str, tenant: str) -> None:
        self._kube = kube
        self.namespace = namespace
        self.provider = provider
        self.tenant = tenant
        self._by_name: dict[str, SessionRecord] = {}
        self._by_channel: dict[str, str] = {}
        self._listeners: list[StatusListener] = []
        self.synced = asyncio.Event()

    # ------------------------------------------------------------------ reading

    def get(self, name: str) -> SessionRecord | None:
        return self._by_name.get(name)

    def by_channel(self, channel_id: str) -> SessionRecord | None:
        name = self._by_channel.get(channel_id)
        return self._by_name.get(name) if name else None

    def all(self) -> list[SessionRecord]:
        return list(self._by_name.values())

    def active_for(self, owner_id: str | None = None) -> list[SessionRecord]:
        return [
            s
            for s in self._by_name.values()
            if s.active and (owner_id is None or s.owner_id == owner_id)
        ]

    def on_change(self, listener: StatusListener) -> None:
        self._listeners.append(listener)

    async def _apply(self, obj: Obj, deleted: bool = False) -> None:
        record = SessionRecord.from_object(obj)
        if record is None or record.spec.tenant != self.tenant:
            return
        previous = self._by_name.get(record.name)
        if deleted:
            self._by_name.pop(record.name, None)
            self._by_channel.pop(record.channel_id, None)
            return
        self._by_name[record.name] = record
        self._by_channel[record.channel_id] = record.name
        for listener in self._listeners:
            try:
                await listener(record, previous)
            except Exception:  # a listener's failure must not stop the watch
                log.exception("session_listener_failed", session_id=record.name)

    async def run_watch(self) -> None:
        """List, then watch forever (re-listing after errors or expiry)."""
        while True:
            try:
                listing = await self._kube.list(AGENT_SESSIONS, self.namespace)
                for item in listing.get("items") or []:
                    await self._apply(item)
                self.synced.set()
                version = str((listing.get("metadata") or {}).get("resourceVersion") or "")
                async for event in self._kube.watch(
                    AGENT_SESSIONS, self.namespace, resource_version=version
                ):
                    if event.type == "ERROR":
                        break
                    if event.type in ("ADDED", "MODIFIED", "DELETED"):
                        await self._apply(event.object, deleted=event.type == "DELETED")
            except KubeError as e:
                log.warning("session_watch_failed", error=str(e))
                await asyncio.sleep(1.0)

    # ------------------------------------------------------------------ writing

    async def create(self, name: str, spec: AgentSessionSpec) -> SessionRecord:
        """Create the AgentSession (an existing one of that name is the same session)."""
        body: Obj = {
            "apiVersion": API_VERSION,
            "kind": "AgentSession",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": {
                    "cephalon.dev/provider": self.provider,
                    "cephalon.dev/tenant": self.tenant,
                    "cephalon.dev/owner": spec.owner.id,
                },
            },
            "spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
        try:
            obj = await self._kube.create(AGENT_SESSIONS, body)
        except AlreadyExists:
            existing = await self._kube.get(AGENT_SESSIONS, name, self.namespace)
            if existing is None:
                raise
            obj = existing
        await self._apply(obj)
        record = self._by_name.get(name)
        assert record is not None
        return record

    async def wake(self, name: str, at: datetime) -> None:
        """Stamp the wake annotation so the operator resumes a suspended session."""
        await self._patch(name, {"metadata": {"annotations": {WAKE_ANNOTATION: rfc3339(at)}}})

    async def end(self, name: str) -> None:
        await self._patch(name, {"spec": {"lifecycle": {"state": SessionState.ENDED.value}}})

    async def _patch(self, name: str, patch: dict[str, Any]) -> None:
        obj = await self._kube.merge_patch(AGENT_SESSIONS, name, self.namespace, patch)
        await self._apply(obj)
