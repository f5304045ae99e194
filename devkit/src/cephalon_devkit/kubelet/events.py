"""Posting core/v1 Events about pods, as the kubelet does (best effort)."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Literal

import structlog

from cephalon_devkit.kubelet.client import KubeClient
from cephalon_devkit.kubelet.errors import KubeletError
from cephalon_devkit.kubelet.status import timestamp
from cephalon_devkit.kubelet.types import Event, Pod

_log = structlog.get_logger(__name__)


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


class EventRecorder:
    """Posts events in the background; ``aclose`` waits for the ones in flight."""

    def __init__(self, client: KubeClient, *, host: str) -> None:
        self._client = client
        self._host = host
        self._pending: set[asyncio.Task[None]] = set()

    def emit(
        self,
        pod: Pod,
        type_: Literal["Normal", "Warning"],
        reason: str,
        message: str,
        *,
        container: str = "",
        component: str = "kubelet",
    ) -> None:
        field_path = f"spec.containers{{{container}}}" if container else ""
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
        task = asyncio.create_task(self._post(event))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _post(self, event: Event) -> None:
        try:
            await self._client.create_event(event["metadata"].get("namespace", ""), event)
        except (KubeletError, OSError, TimeoutError) as error:
            _log.warning("event not posted", reason=event.get("reason"), error=str(error))
        except Exception as error:  # aiohttp errors and a closed session at shutdown
            _log.warning("event not posted", reason=event.get("reason"), error=repr(error))

    async def aclose(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
