"""One watch: which events a client sees, and in what shape.

A :class:`Watcher` is subscribed to the store's events for one resource and filters
them by namespace, label and field selector the way the API server's watch cache
does: an object that starts matching arrives as ``ADDED``, one that stops matching
as ``DELETED`` (carrying its last matching state at the new resourceVersion), so a
client's view always equals a fresh filtered list. Its queue only holds this
watch's pending events; nothing is kept once the client disconnects.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass

from .selectors import FieldSelector, LabelSelector
from .store import EventSink, StoredEvent
from .types import EventType, KubeObject


@dataclass(frozen=True, slots=True)
class Delivery:
    rv: int
    type: EventType
    obj: KubeObject


class Watcher(EventSink):
    def __init__(
        self,
        *,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
    ) -> None:
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.queue: asyncio.Queue[Delivery | None] = asyncio.Queue()
        self.last_rv = 0

    def matches(self, obj: KubeObject | None) -> bool:
        if obj is None:
            return False
        if self.namespace is not None and obj["metadata"].get("namespace") != self.namespace:
            return False
        return self.labels.matches(obj) and self.fields.matches(obj)

    def offer(self, event: StoredEvent) -> None:
        now = self.matches(event.obj)
        if event.type == "ADDED":
            if now:
                self._put(event.rv, "ADDED", event.obj)
        elif event.type == "DELETED":
            if now or self.matches(event.old):
                self._put(event.rv, "DELETED", event.obj)
        else:
            before = self.matches(event.old)
            if now and before:
                self._put(event.rv, "MODIFIED", event.obj)
            elif now:
                self._put(event.rv, "ADDED", event.obj)
            elif before and event.old is not None:
                last = copy.deepcopy(event.old)
                last["metadata"]["resourceVersion"] = str(event.rv)
                self._put(event.rv, "DELETED", last)

    def close(self) -> None:
        self.queue.put_nowait(None)

    def send_initial(self, objects: list[KubeObject], rv: int) -> None:
        """Synthetic ``ADDED`` events for a watch started without a resourceVersion."""
        for obj in objects:
            if self.matches(obj):
                self._put(int(obj["metadata"]["resourceVersion"]), "ADDED", obj)
        self.last_rv = max(self.last_rv, rv)

    def _put(self, rv: int, etype: EventType, obj: KubeObject) -> None:
        self.queue.put_nowait(Delivery(rv, etype, obj))
