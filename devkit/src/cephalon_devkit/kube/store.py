"""The object store: one monotonic ``resourceVersion``, O(1) indexes, a bounded history.

Objects are indexed by ``(group, resource) → namespace → name`` so that get, replace and
delete cost O(1) whatever the number of stored objects; ``uid`` and owner-``uid``
indexes keep garbage collection O(dependents). Every write gets the next value of a
single counter shared by all resources, as etcd's revision is, and is appended to a
per-resource history that watches resume from. Stored dicts are never mutated after
``put``: writers build a new dict, so a watch can serialize an event later without
copying it now.

Everything here runs on the server's event loop without awaiting, which is what makes
"list, then watch from the list's resourceVersion" lossless: no write can interleave
between reading the objects and reading the version.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .errors import Gone
from .types import EventType, KubeObject

ResourceKey = tuple[str, str]
"""(group, plural)"""
ObjectKey = tuple[str, str, str, str]
"""(group, plural, namespace, name); namespace is "" for cluster-scoped objects."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    rv: int
    type: EventType
    obj: KubeObject
    old: KubeObject | None = None


class EventSink:
    """Something that wants every event of one resource (a watch)."""

    def offer(self, event: StoredEvent) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        """The resource stopped being served (its CRD is gone): end the watch."""


@dataclass(slots=True)
class _History:
    capacity: int
    events: deque[StoredEvent] = field(default_factory=deque)
    floor: int = 0
    """Highest resourceVersion evicted; resuming from below it is 410 Gone."""

    def append(self, event: StoredEvent) -> None:
        if len(self.events) >= self.capacity:
            self.floor = self.events.popleft().rv
        self.events.append(event)

    def since(self, rv: int) -> list[StoredEvent]:
        if rv < self.floor:
            raise Gone.too_old(rv, self.floor + 1)
        newer: list[StoredEvent] = []
        for event in reversed(self.events):
            if event.rv <= rv:
                break
            newer.append(event)
        newer.reverse()
        return newer


def object_key(group: str, plural: str, obj: KubeObject) -> ObjectKey:
    meta = obj["metadata"]
    return (group, plural, meta.get("namespace") or "", meta["name"])


class Store:
    """All objects of one emulated cluster."""

    def __init__(self, *, history_size: int = 10_000, first_rv: int = 1000) -> None:
        self._rv = first_rv
        self._history_size = history_size
        self._objects: dict[ResourceKey, dict[str, dict[str, KubeObject]]] = {}
        self._counts: dict[ResourceKey, int] = {}
        self._uids: dict[str, ObjectKey] = {}
        self._dependents: dict[str, set[ObjectKey]] = {}
        self._history: dict[ResourceKey, _History] = {}
        self._sinks: dict[ResourceKey, set[EventSink]] = {}
        self.on_event: list[Callable[[ResourceKey, StoredEvent], None]] = []

    # --- reads ---------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    def get(self, rkey: ResourceKey, namespace: str, name: str) -> KubeObject | None:
        return self._objects.get(rkey, {}).get(namespace, {}).get(name)

    def items(self, rkey: ResourceKey, namespace: str | None = None) -> Iterator[KubeObject]:
        """Objects of one resource (in one namespace), ordered like etcd keys."""
        by_ns = self._objects.get(rkey, {})
        spaces = [namespace] if namespace is not None else sorted(by_ns)
        for ns in spaces:
            names = by_ns.get(ns, {})
            for name in sorted(names):
                yield names[name]

    def count(self, rkey: ResourceKey) -> int:
        return self._counts.get(rkey, 0)

    def key_of_uid(self, uid: str) -> ObjectKey | None:
        return self._uids.get(uid)

    def dependents(self, owner_uid: str) -> list[ObjectKey]:
        return sorted(self._dependents.get(owner_uid, ()))

    def namespace_contents(self, namespace: str) -> list[ObjectKey]:
        keys: list[ObjectKey] = []
        for (group, plural), by_ns in self._objects.items():
            keys += [(group, plural, namespace, n) for n in by_ns.get(namespace, {})]
        return keys

    # --- writes ----------------------------------------------------------------------------

    def next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def put(self, rkey: ResourceKey, obj: KubeObject, old: KubeObject | None) -> KubeObject:
        """Store a new or changed object under a fresh resourceVersion; emit its event."""
        rv = self.next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        meta = obj["metadata"]
        namespace, name = meta.get("namespace") or "", meta["name"]
        names = self._objects.setdefault(rkey, {}).setdefault(namespace, {})
        if name not in names:
            self._counts[rkey] = self._counts.get(rkey, 0) + 1
        names[name] = obj
        key = (rkey[0], rkey[1], namespace, name)
        self._uids[meta["uid"]] = key
        if old is not None:
            self._unindex_owners(old, key)
        for ref in meta.get("ownerReferences") or ():
            if ref.get("uid"):
                self._dependents.setdefault(ref["uid"], set()).add(key)
        self._emit(rkey, StoredEvent(rv, "MODIFIED" if old is not None else "ADDED", obj, old))
        return obj

    def remove(self, rkey: ResourceKey, final: KubeObject) -> KubeObject:
        """Delete an object for good; its last state goes out as a DELETED event."""
        meta = final["metadata"]
        namespace, name = meta.get("namespace") or "", meta["name"]
        names = self._objects.get(rkey, {}).get(namespace, {})
        old = names.pop(name, None)
        if old is None:
            return final
        self._counts[rkey] -= 1
        if not names:
            del self._objects[rkey][namespace]
        key = (rkey[0], rkey[1], namespace, name)
        self._uids.pop(meta["uid"], None)
        self._unindex_owners(old, key)
        rv = self.next_rv()
        meta["resourceVersion"] = str(rv)
        self._emit(rkey, StoredEvent(rv, "DELETED", final, old))
        return final

    def _unindex_owners(self, obj: KubeObject, key: ObjectKey) -> None:
        for ref in obj["metadata"].get("ownerReferences") or ():
            deps = self._dependents.get(ref.get("uid", ""))
            if deps is not None:
                deps.discard(key)
                if not deps:
                    del self._dependents[ref["uid"]]

    def _emit(self, rkey: ResourceKey, event: StoredEvent) -> None:
        history = self._history.get(rkey)
        if history is None:
            history = self._history[rkey] = _History(self._history_size)
        history.append(event)
        for sink in list(self._sinks.get(rkey, ())):
            sink.offer(event)
        for listener in self.on_event:
            listener(rkey, event)

    # --- watches ---------------------------------------------------------------------------

    def subscribe(self, rkey: ResourceKey, sink: EventSink, since: int | None) -> None:
        """Attach ``sink``; replay every event after ``since`` first (410 if compacted).

        With ``since=None`` the caller has already sent the current state.
        """
        if since is not None:
            history = self._history.get(rkey)
            if history is not None:
                for event in history.since(since):
                    sink.offer(event)
        self._sinks.setdefault(rkey, set()).add(sink)

    def unsubscribe(self, rkey: ResourceKey, sink: EventSink) -> None:
        sinks = self._sinks.get(rkey)
        if sinks is not None:
            sinks.discard(sink)
            if not sinks:
                del self._sinks[rkey]

    def watcher_count(self) -> int:
        return sum(len(s) for s in self._sinks.values())

    def drop_resource(self, rkey: ResourceKey) -> None:
        """Forget a resource's history once its CRD is gone (its objects already are)."""
        self._history.pop(rkey, None)
        for sink in self._sinks.pop(rkey, set()):
            sink.close()
        self._objects.pop(rkey, None)
        self._counts.pop(rkey, None)
