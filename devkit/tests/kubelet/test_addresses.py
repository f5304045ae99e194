"""Per-pod loopback addresses."""

from __future__ import annotations

import pytest

from cephalon_devkit.kubelet.addresses import AddressPool


def test_lowest_free_address_per_uid_and_reuse_after_release() -> None:
    pool = AddressPool("127.10.0.0/30")
    assert pool.allocate("a") == "127.10.0.1"
    assert pool.allocate("b") == "127.10.0.2"
    assert pool.allocate("a") == "127.10.0.1"
    with pytest.raises(RuntimeError, match="exhausted"):
        pool.allocate("c")
    pool.release("a")
    assert pool.allocate("c") == "127.10.0.1"


def test_only_loopback_networks() -> None:
    with pytest.raises(ValueError, match="not a loopback network"):
        AddressPool("10.0.0.0/24")
