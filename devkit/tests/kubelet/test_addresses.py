"""Per-pod loopback addresses."""

from __future__ import annotations

import pytest

from cephalon_devkit.kubelet.addresses import AddressPool, translate_loopback


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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1", "127.10.0.7"),
        ("http://127.0.0.1:8701/mcp", "http://127.10.0.7:8701/mcp"),
        ('[{"url": "http://localhost:8701/mcp"}]', '[{"url": "http://127.10.0.7:8701/mcp"}]'),
        ("--bind=127.0.0.1", "--bind=127.10.0.7"),
        ("127.0.0.10", "127.0.0.10"),
        ("10.127.0.0.1", "10.127.0.0.1"),
        ("mylocalhost", "mylocalhost"),
        ("localhost.localdomain", "localhost.localdomain"),
        ("/workspace", "/workspace"),
    ],
)
def test_loopback_becomes_the_pod_ip(value: str, expected: str) -> None:
    assert translate_loopback(value, "127.10.0.7") == expected
