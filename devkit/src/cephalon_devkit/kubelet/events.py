"""Posting core/v1 Events about pods, as the kubelet does (best effort).

Like client-go's event correlator, a repeat of the same event (same pod, container,
type, reason and message) within ``aggregate_window`` seconds bumps the ``count`` and
``lastTimestamp`` of the first one instead of creating another, so ``kubectl describe``
shows ``(x5 over 40s)``. Events are posted in order by one background task.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass
from typing import Literal

import structlog

from cephalon_devkit.kubelet.client import KubeClient
from cephalon_devkit.kubelet.errors import KubeletError, NotFound
from cephalon_devkit.kubelet.status import timestamp
from cephalon_devkit.kubelet.types import Event, Pod

_log = structlog.get_logger(__name__)

EventKey = tuple[str, str, str, str, str]


def build_event(
    pod: Pod,
    *,
    type_: Literal["Normal", "Warning"],
    reason: str,
    message: str,
    component: str,
    host: str,
    now: float,
    field_path: str = "",
) -> Event:
    """A core/v1 Event about ``pod`` (named ``<pod>.<random hex>`` like client-go's)."""
    meta = pod.get("metadata", {})
    when = timestamp(now)
    event: Event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{meta.get('name', '')}.{secrets.token_hex(8)}",
            "namespace": meta.get("namespace", ""),
        },
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "uid": meta.get("uid", ""),
        },
        "reason": reason,
        "message": message,
        "type": type_,
        "source": {"component": component, "host": host},
        "firstTimestamp": when,
        "lastTimestamp": when,
        "count": 1,
        "reportingComponent": component,
        "reportingInstance": host,
    }
    if field_path:
        event["involvedObject"]["fieldPath"] = field_path
    return event


def event_key(event: Event) -> EventKey:
    involved = event.get("involvedObject", {})
    return (
        involved.get("uid", ""),
        involved.get("fieldPath", ""),
        event.get("type", ""),
        event.get("reason", ""),
        event.get("message", ""),
    )


@dataclass
class _Posted:
    namespace: str
    name: str
    count: int
    first_at: float


class EventRecorder:
    """Queues events and posts them in order; ``aclose`` drains the queue."""

    def __init__(self, client: KubeClient, *, host: str, aggregate_window: float = 600) -> None:
        self._client = client
        self._host = host
        self._window = aggregate_window
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._posted: dict[EventKey, _Posted] = {}
        self._task: asyncio.Task[None] | None = None

    def emit(
        self,
        pod: Pod,
        type_: Literal["Normal", "Warning"],
        reason: str,
        message: str,
        *,
        field_path: str = "",
        component: str = "kubelet",
    ) -> None:
        event = build_event(
            pod,
            type_=type_,
            reason=reason,
            message=message,
            component=component,
            host=self._host,
            now=time.time(),
            field_path=field_path,
        )
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        self._queue.put_nowait(event)

    async def _run(self) -> None:
        while (event := await self._queue.get()) is not None:
            try:
                await self._post(event)
            except Exception as error:  # best effort: aiohttp errors, a closed session
                _log.warning("event not posted", reason=event.get("reason"), error=repr(error))

    async def _post(self, event: Event) -> None:
        key = event_key(event)
        now = time.time()
        seen = self._posted.get(key)
        namespace = event["metadata"].get("namespace", "")
        if seen is not None and now - seen.first_at <= self._window:
            seen.count += 1
            patch = {"count": seen.count, "lastTimestamp": event.get("lastTimestamp")}
            try:
                await self._client.patch_event(seen.namespace, seen.name, patch)
                return
            except NotFound:
                pass  # deleted meanwhile: post a new one
        try:
            await self._client.create_event(namespace, event)
        except KubeletError as error:
            _log.warning("event not posted", reason=event.get("reason"), error=str(error))
            return
        self._posted[key] = _Posted(namespace, event["metadata"].get("name", ""), 1, now)

    def forget(self, uid: str) -> None:
        """Drop the aggregation state of a pod that is gone."""
        for key in [key for key in self._posted if key[0] == uid]:
            del self._posted[key]

    async def aclose(self) -> None:
        if self._task is None:
            return
        self._queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
