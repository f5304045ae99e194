"""Per-pod loopback addresses (optional).

All pods share the executor's network namespace, so by default every pod's IP is
``127.0.0.1`` and two pods listening on the same port collide. With a pool such as
``127.10.0.0/16`` each pod gets its own loopback address (Linux routes all of
``127.0.0.0/8`` to ``lo``), reported as ``status.podIP`` and used as the probe host; a
process that binds to its pod IP (``valueFrom.fieldRef: status.podIP``) then no longer
collides with the same port in another pod.
"""

from __future__ import annotations

import ipaddress
import re


class AddressPool:
    """Hands out the lowest free host address of a loopback network, one per pod uid."""

    def __init__(self, network: str) -> None:
        self._network = ipaddress.IPv4Network(network, strict=False)
        if not self._network.subnet_of(ipaddress.IPv4Network("127.0.0.0/8")):
            raise ValueError(f"pod IP pool {network} is not a loopback network (127.0.0.0/8)")
        self._by_uid: dict[str, ipaddress.IPv4Address] = {}
        self._used: set[ipaddress.IPv4Address] = set()

    def allocate(self, uid: str) -> str:
        """The pod's address (the same one again for the same uid)."""
        if uid in self._by_uid:
            return str(self._by_uid[uid])
        for address in self._network.hosts():
            if address not in self._used:
                self._used.add(address)
                self._by_uid[uid] = address
                return str(address)
        raise RuntimeError(f"pod IP pool {self._network} is exhausted")

    def release(self, uid: str) -> None:
        address = self._by_uid.pop(uid, None)
        if address is not None:
            self._used.discard(address)


_LOOPBACK = re.compile(r"(?<![\w.-])(?:127\.0\.0\.1|localhost)(?![\w-]|\.\w)")


def translate_loopback(value: str, pod_ip: str) -> str:
    """Give a pod its own loopback: ``127.0.0.1`` and ``localhost`` become its pod IP.

    Inside a real pod, loopback is private to the pod, which is why the session pod's
    sidecars listen on ``127.0.0.1``. Here every pod shares the host's loopback, so with a
    pod IP pool the pod's address stands in for it, in env values, arguments and probe
    hosts: two sessions' sidecars on the same port no longer collide, and the manifests
    stay exactly what a cluster runs. ``127.0.0.10`` or ``mylocalhost`` are left alone.
    """
    return _LOOPBACK.sub(pod_ip, value)
