"""Waiting for a condition with a deadline: the one polling loop local mode, the demo
and the test helpers share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def until(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout: float,
    what: str,
    error: type[Exception] = TimeoutError,
    interval: float = 0.05,
) -> T:
    """Poll ``probe`` until it returns something truthy and return that; after
    ``timeout`` seconds raise ``error`` naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise error(f"timed out after {timeout:.0f} s waiting for {what}: last {value!r}")
        await asyncio.sleep(interval)
