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
