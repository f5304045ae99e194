"""Root pytest configuration: registers the devkit's fixture plugins (pytest accepts
``pytest_plugins`` only here; importing them starts nothing, fixtures do, on use) and
fails any test that leaves a discord.py heartbeat thread behind.

A discord.py client that is not closed keeps its ``keep-alive-handler`` thread, which
later calls into the test's closed event loop and makes an unrelated test fail with
"Exception in thread keep-alive-handler". Catching the leak where it happens names the
test that forgot to close its client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

pytest_plugins = [
    "cephalon_devkit.testing.redis",
    "cephalon_devkit.testing.discord",
]


def _heartbeat_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("keep-alive-handler")}


@pytest.fixture(autouse=True)
def no_leaked_discord_heartbeats() -> Iterator[None]:
    before = _heartbeat_threads()
    yield
    deadline = time.monotonic() + 2.0
    while (leaked := _heartbeat_threads() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    if leaked:
        for thread in leaked:  # stop them so the leak does not spread to later tests
            stop = getattr(thread, "stop", None)
            if callable(stop):
                stop()
        pytest.fail(f"a discord.py client was left open: {sorted(t.name for t in leaked)}")
