"""pytest fixtures for the Kubernetes API emulator.

Load in a test package's ``conftest.py`` with
``from cephalon_devkit.testing.kube import kube_api, kube_api_threaded  # noqa: F401``
(pytest honours ``pytest_plugins`` only in the root conftest).

- ``kube_api``: the server on the test's own event loop. Code under test that talks
  to it must not block that loop (use asyncio subprocesses, run kopf in a thread).
- ``kube_api_threaded``: the server on its own loop in a thread, for synchronous tests
  or code that blocks the loop.

Both yield a :class:`KubeApiHandle` with ``url``, ``kubeconfig_path``, ``server`` and
``api`` (the in-process :class:`~cephalon_devkit.kube.KubeApi`, for assertions on the
store that HTTP does not show, e.g. ``api.store.watcher_count()``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from cephalon_devkit.kube import KubeApi, KubeApiServer, ThreadedKubeApiServer
from cephalon_devkit.kube.kubeconfig import write_kubeconfig


@dataclass(frozen=True, slots=True)
class KubeApiHandle:
    url: str
    kubeconfig_path: Path
    server: KubeApiServer

    @property
    def api(self) -> KubeApi:
        return self.server.api


@pytest_asyncio.fixture
async def kube_api(tmp_path: Path) -> AsyncIterator[KubeApiHandle]:
    server = KubeApiServer()
    await server.start()
    try:
        path = server.write_kubeconfig(tmp_path / "kubeconfig")
        yield KubeApiHandle(url=server.url, kubeconfig_path=path, server=server)
    finally:
        await server.stop()


@pytest.fixture
def kube_api_threaded(tmp_path: Path) -> Iterator[KubeApiHandle]:
    with ThreadedKubeApiServer() as threaded:
        assert threaded.server is not None
        path = write_kubeconfig(tmp_path / "kubeconfig", threaded.url)
        yield KubeApiHandle(url=threaded.url, kubeconfig_path=path, server=threaded.server)
