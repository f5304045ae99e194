"""Keeping an up-to-date view of the pods of one namespace: list, then watch.

The watch resumes from the last ``resourceVersion`` it saw (bookmarks included); a
410 Gone, or a watch that keeps failing, starts over with a fresh list, and pods that
disappeared meanwhile are reported as deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

import aiohttp
import structlog

from cephalon_devkit.kubelet.client import KubeClient
from cephalon_devkit.kubelet.errors import ApiError, Gone
from cephalon_devkit.kubelet.types import Pod

_log = structlog.get_logger(__name__)

PodCallback = Callable[[str, Pod], None]
"""Called with ``ADDED``/``MODIFIED``/``DELETED`` and the pod."""


def is_on_node(pod: Pod, node_name: str) -> bool:
    """Whether a pod is this node's: bound to it, or not bound anywhere.

    There is no scheduler: an unbound pod is taken by the executor (and reported
    ``PodScheduled``) without writing ``spec.nodeName``.
    """
    return pod.get("spec", {}).get("nodeName", "") in ("", node_name)


def relist(known: dict[str, Pod], items: list[Pod]) -> tuple[dict[str, Pod], list[tuple[str, Pod]]]:
    """The pods after a (re)list, and the events that bring a consumer up to date.

    Pods that were known but are no longer listed were deleted while the watch was
    down: they come first, as ``DELETED``; every listed pod follows as ``ADDED`` (a
    consumer treats an ``ADDED`` for a pod it knows as an update).
    """
    current = {pod["metadata"]["uid"]: pod for pod in items}
    changes: list[tuple[str, Pod]] = [
        ("DELETED", pod) for uid, pod in known.items() if uid not in current
    ]
    changes.extend(("ADDED", pod) for pod in items)
    return current, changes


async def watch_namespace(
    client: KubeClient,
    namespace: str | None,
    callback: PodCallback,
    *,
    timeout_seconds: int,
    retry_delay: float = 1.0,
) -> None:
    """List and watch pods of ``namespace`` (None: all namespaces) until cancelled."""
    log = _log.bind(namespace=namespace or "*")
    known: dict[str, Pod] = {}
    while True:
        try:
            listing = await client.list_pods(namespace)
        except (ApiError, aiohttp.ClientError, OSError, TimeoutError) as error:
            log.warning("pod list failed", error=str(error))
            await asyncio.sleep(retry_delay)
            continue
        known, changes = relist(known, listing.get("items", []))
        for kind, pod in changes:
            callback(kind, pod)
        version = listing.get("metadata", {}).get("resourceVersion", "")
        failures = 0
        while failures < 5:
            try:
                async for event in client.watch_pods(
                    namespace, version, timeout_seconds=timeout_seconds
                ):
                    obj = event["object"]
                    version = obj.get("metadata", {}).get("resourceVersion", version)
                    if event["type"] == "BOOKMARK":
                        continue
                    changed = cast(Pod, obj)
                    uid = changed["metadata"]["uid"]
                    if event["type"] == "DELETED":
                        known.pop(uid, None)
                    else:
                        known[uid] = changed
                    callback(event["type"], changed)
                failures = 0
            except Gone:
                log.info("watch expired, listing again")
                break
            except (ApiError, aiohttp.ClientError, OSError, TimeoutError, ValueError) as error:
                failures += 1
                log.warning("pod watch failed", error=str(error), failures=failures)
                await asyncio.sleep(retry_delay)
