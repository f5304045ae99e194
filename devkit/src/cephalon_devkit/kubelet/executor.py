"""The local pod executor: watches pods and gives each one a ``PodWorker``.

Use it as an async context manager::

    async with open_executor(config, load_kubeconfig(path)) as executor:
        await executor.wait()   # or do something else while pods run

Leaving the context stops every container (SIGTERM, at most ``shutdown_grace``
seconds, SIGKILL) and leaves the pod objects as they are, like a node going away.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

import aiohttp
import structlog

from cephalon_devkit.kubelet.addresses import AddressPool
from cephalon_devkit.kubelet.client import KubeClient
from cephalon_devkit.kubelet.config import KubeletConfig
from cephalon_devkit.kubelet.events import EventRecorder
from cephalon_devkit.kubelet.kubeconfig import Connection
from cephalon_devkit.kubelet.pods import PodWorker
from cephalon_devkit.kubelet.types import Pod
from cephalon_devkit.kubelet.watching import is_on_node, watch_namespace

_log = structlog.get_logger(__name__)


class PodExecutor:
    """Runs the pods of the configured namespaces as local processes."""

    def __init__(
        self, config: KubeletConfig, client: KubeClient, http: aiohttp.ClientSession
    ) -> None:
        self._config = config
        self._client = client
        self._http = http
        self._events = EventRecorder(client, host=config.node_name)
        self._workers: dict[str, PodWorker] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._finished: set[str] = set()
        self._chores: set[asyncio.Task[None]] = set()
        self._watchers: list[asyncio.Task[None]] = []
        self._closed = asyncio.Event()
        self._addresses = AddressPool(config.pod_ip_pool) if config.pod_ip_pool else None

    async def __aenter__(self) -> PodExecutor:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def start(self) -> None:
        namespaces: list[str | None] = list(self._config.namespaces) or [None]
        for namespace in namespaces:
            self._watchers.append(
                asyncio.create_task(
                    watch_namespace(
                        self._client,
                        namespace,
                        self._on_pod,
                        timeout_seconds=self._config.watch_timeout_seconds,
                    )
                )
            )
        _log.info("pod executor started", namespaces=namespaces, node=self._config.node_name)

    async def wait(self) -> None:
        """Until ``aclose`` is called."""
        await self._closed.wait()

    def _on_pod(self, kind: str, pod: Pod) -> None:
        if not is_on_node(pod, self._config.node_name):
            return
        meta = pod.get("metadata", {})
        uid = meta.get("uid", "")
        worker = self._workers.get(uid)
        if kind == "DELETED":
            if worker is not None:
                worker.vanished()
            return
        if worker is not None:
            worker.observe(pod)
            return
        if uid in self._finished or self._closed.is_set():
            return
        if meta.get("deletionTimestamp"):
            # Nothing of this pod runs here: complete its deletion as the kubelet would.
            self._chore(
                self._client.delete_pod_now(meta.get("namespace", ""), meta.get("name", ""), uid)
            )
            return
        if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return
        worker = PodWorker(
            pod,
            config=self._config,
            client=self._client,
            events=self._events,
            http=self._http,
            pod_ip=self._addresses.allocate(uid) if self._addresses else "",
        )
        self._workers[uid] = worker
        task = asyncio.create_task(worker.run())
        self._tasks[uid] = task
        task.add_done_callback(lambda done: self._worker_done(uid, done))

    def _worker_done(self, uid: str, task: asyncio.Task[None]) -> None:
        self._events.forget(uid)
        if self._addresses is not None:
            self._addresses.release(uid)
        self._workers.pop(uid, None)
        self._tasks.pop(uid, None)
        self._finished.add(uid)
        if not task.cancelled() and task.exception() is not None:
            _log.error("pod worker failed", uid=uid, error=repr(task.exception()))

    def _chore(self, coroutine: Coroutine[Any, Any, None]) -> None:
        async def guarded() -> None:
            try:
                await coroutine
            except Exception as error:  # a best-effort call; the next event retries
                _log.warning("api call failed", error=repr(error))

        task = asyncio.create_task(guarded())
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    async def aclose(self) -> None:
        """Stop watching, stop every container, wait for the workers."""
        if self._closed.is_set():
            return
        self._closed.set()
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        for worker in list(self._workers.values()):
            worker.shutdown(self._config.shutdown_grace)
        await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)
        await asyncio.gather(*list(self._chores), return_exceptions=True)
        await self._events.aclose()
        _log.info("pod executor stopped")


@asynccontextmanager
async def open_executor(
    config: KubeletConfig, connection: Connection
) -> AsyncIterator[PodExecutor]:
    """An executor with its own HTTP sessions (API client and probes), started."""
    async with (
        aiohttp.ClientSession(read_bufsize=1 << 20) as api_session,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as probe_session,
    ):
        client = KubeClient(api_session, connection)
        async with PodExecutor(config, client, probe_session) as executor:
            yield executor
