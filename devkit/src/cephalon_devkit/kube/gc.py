"""Background controllers the API server (or kube-controller-manager) runs for us.

- ownerReference garbage collection, background propagation: when an owner is gone,
  each dependent whose owners are all gone is deleted — through the normal delete
  path, so the dependent's own finalizers are respected;
- foreground propagation: an owner marked with ``foregroundDeletion`` loses that
  finalizer once its dependents are gone;
- namespace termination: a terminating namespace's contents are deleted, then its
  ``kubernetes`` finalizer is removed;
- CRD cleanup: a terminating CRD's custom objects are deleted, then the
  ``customresourcecleanup`` finalizer is removed and the resource stops being served.

Work arrives as keys on one queue and runs on the server's loop after the request
that caused it has returned — asynchronously, like the real controllers, so clients
cannot rely on a dependent vanishing in the same request.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from typing import TYPE_CHECKING

from .errors import ApiError
from .lifecycle import CRD_CLEANUP_FINALIZER, FOREGROUND_FINALIZER, WriteContext, is_terminating
from .resources import CRD_KEY, NAMESPACE_KEY
from .types import DeleteOptions

if TYPE_CHECKING:
    from .api import KubeApi

logger = logging.getLogger(__name__)

WorkItem = tuple[str, str]


class GarbageCollector:
    def __init__(self, api: KubeApi) -> None:
        self._api = api
        self._queue: asyncio.Queue[WorkItem] | None = None
        self._pending: set[WorkItem] = set()
        self._backlog: list[WorkItem] = []
        self._task: asyncio.Task[None] | None = None
        self._idle: asyncio.Event | None = None

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._idle = asyncio.Event()
        for item in self._backlog:
            self._queue.put_nowait(item)
        self._backlog.clear()
        if self._queue.empty():
            self._idle.set()
        self._task = asyncio.create_task(self._run(), name="kube-gc")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_idle(self) -> None:
        """Wait until no work is queued (for tests that assert GC results)."""
        if self._idle is not None:
            await self._idle.wait()

    # --- triggers ------------------------------------------------------------------------

    def owner_gone(self, uid: str) -> None:
        self._enqueue(("owner", uid))

    def dependent_gone(self, owner_uid: str) -> None:
        self._enqueue(("foreground", owner_uid))

    def namespace_changed(self, name: str) -> None:
        self._enqueue(("namespace", name))

    def crd_changed(self, name: str) -> None:
        self._enqueue(("crd", name))

    def _enqueue(self, item: WorkItem) -> None:
        if item in self._pending:
            return
        self._pending.add(item)
        if self._queue is None:
            self._backlog.append(item)
            return
        self._queue.put_nowait(item)
        if self._idle is not None:
            self._idle.clear()

    # --- work --------------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._queue is not None and self._idle is not None
        while True:
            if self._queue.empty():
                self._idle.set()
            item = await self._queue.get()
            self._pending.discard(item)
            try:
                self._process(item)
            except Exception:  # a controller keeps running, as the real ones do
                logger.exception("kube emulator controller failed on %s", item)
            await asyncio.sleep(0)

    def _process(self, item: WorkItem) -> None:
        kind, key = item
        if kind == "owner":
            self._collect_dependents(key)
        elif kind == "foreground":
            self._finish_foreground(key)
        elif kind == "namespace":
            self._terminate_namespace(key)
        elif kind == "crd":
            self._cleanup_crd(key)

    def _delete(self, group: str, plural: str, namespace: str, name: str) -> None:
        api = self._api
        rtype = api.registry.by_key((group, plural))
        obj = api.store.get((group, plural), namespace, name)
        if rtype is None or obj is None or is_terminating(obj):
            return
        options: DeleteOptions = {"propagationPolicy": "Background"}
        with contextlib.suppress(ApiError):
            api.delete(rtype, namespace or None, name, options, WriteContext())

    def _collect_dependents(self, owner_uid: str) -> None:
        store = self._api.store
        if store.key_of_uid(owner_uid) is not None:
            return
        for group, plural, namespace, name in store.dependents(owner_uid):
            dependent = store.get((group, plural), namespace, name)
            if dependent is None:
                continue
            owners = [r.get("uid", "") for r in dependent["metadata"].get("ownerReferences") or ()]
            if all(store.key_of_uid(uid) is None for uid in owners):
                self._delete(group, plural, namespace, name)

    def _finish_foreground(self, owner_uid: str) -> None:
        api = self._api
        key = api.store.key_of_uid(owner_uid)
        if key is None:
            return
        group, plural, namespace, name = key
        owner = api.store.get((group, plural), namespace, name)
        rtype = api.registry.by_key((group, plural))
        if owner is None or rtype is None:
            return
        if FOREGROUND_FINALIZER not in (owner["metadata"].get("finalizers") or []):
            return
        dependents = api.store.dependents(owner_uid)
        for dep in dependents:
            self._delete(*dep)
        if api.store.dependents(owner_uid):
            return
        new = copy.deepcopy(owner)
        new["metadata"]["finalizers"] = [
            f for f in new["metadata"]["finalizers"] if f != FOREGROUND_FINALIZER
        ]
        api.commit_update(rtype, owner, new, WriteContext())

    def _terminate_namespace(self, name: str) -> None:
        api = self._api
        ns = api.store.get(NAMESPACE_KEY, "", name)
        if ns is None or not is_terminating(ns):
            return
        contents = api.store.namespace_contents(name)
        for group, plural, namespace, obj_name in contents:
            self._delete(group, plural, namespace, obj_name)
        if api.store.namespace_contents(name):
            return
        new = copy.deepcopy(ns)
        spec = new.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != "kubernetes"]
        api.commit_update(api.rtype(NAMESPACE_KEY), ns, new, WriteContext())

    def _cleanup_crd(self, name: str) -> None:
        api = self._api
        crd = api.store.get(CRD_KEY, "", name)
        if crd is None or not is_terminating(crd):
            return
        plural, _, group = name.partition(".")
        instances = list(api.store.items((group, plural)))
        for obj in instances:
            meta = obj["metadata"]
            self._delete(group, plural, meta.get("namespace") or "", meta["name"])
        if api.store.count((group, plural)):
            return
        new = copy.deepcopy(crd)
        new["metadata"]["finalizers"] = [
            f for f in new["metadata"].get("finalizers") or [] if f != CRD_CLEANUP_FINALIZER
        ]
        api.commit_update(api.rtype(CRD_KEY), crd, new, WriteContext())
