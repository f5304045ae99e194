"""Kubernetes API emulator at scale (issue 3): a kopf operator watching 1,000 custom
objects, and the cost of lookups and deletes as the store grows.

Run: ``.venv/bin/python benchmarks/bench_kube.py`` (prints a table, writes
``bench-results/kube.json``). The emulator runs as its own process
(``cephalon dev kube``) so that its RSS is its own; kopf runs in a thread of this
process, as in the tests. Benchmarks report; they do not assert.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import kopf
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from report import Report, summarize_ms  # noqa: E402

from cephalon_devkit.kube import KubeApi, WriteContext  # noqa: E402
from cephalon_devkit.kube.resources import ResourceType  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
AS_PATH = "/apis/cephalon.dev/v1alpha1/namespaces/default/agentsessions"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
CMS = "/api/v1/namespaces/default/configmaps"
OBJECTS = 1000
CONCURRENCY = 16
SIZES = (100, 1000, 5000)
SAMPLES = 300
SEQUENTIAL = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def session(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "cephalon.dev/v1alpha1",
        "kind": "AgentSession",
        "metadata": {"name": name},
        "spec": {
            "provider": "discord",
            "tenant": "duck",
            "owner": {"id": "1", "name": "alice"},
            "conversation": {"channel": "c"},
        },
    }


class Operator:
    """kopf in its own thread, recording when each object is first seen."""

    def __init__(self, url: str) -> None:
        self.observed: dict[str, float] = {}
        self.registry = kopf.OperatorRegistry()
        self.stop = threading.Event()
        self.ready = threading.Event()
        observed = self.observed

        @kopf.on.login(registry=self.registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return kopf.ConnectionInfo(server=url, insecure=True, default_namespace="default")

        @kopf.on.startup(registry=self.registry)
        def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
            settings.posting.level = logging.WARNING
            settings.persistence.finalizer = "cephalon.dev/bench"

        @kopf.on.create("cephalon.dev", "v1alpha1", "agentsessions", registry=self.registry)
        def create(name: str, patch: kopf.Patch, **_: Any) -> None:
            observed.setdefault(name, time.perf_counter())
            patch.status["phase"] = "Ready"

        @kopf.on.delete("cephalon.dev", "v1alpha1", "agentsessions", registry=self.registry)
        def delete(**_: Any) -> None:
            return None

        self.thread = threading.Thread(target=self._run, name="kopf", daemon=True)

    def _run(self) -> None:
        asyncio.run(
            kopf.operator(
                registry=self.registry,
                standalone=True,
                namespaces=["default"],
                stop_flag=self.stop,
                ready_flag=self.ready,
            )
        )

    def __enter__(self) -> Operator:
        self.thread.start()
        self.ready.wait(30)
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(30)


async def wait_for(probe: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


async def bench_kopf(http: aiohttp.ClientSession, url: str, pid: int, report: Report) -> None:
    for path in sorted((REPO / "crds").glob("*.yaml")):
        async with http.post(url + CRDS, json=yaml.safe_load(path.read_text())) as r:
            assert r.status == 201, await r.text()
    names = [f"bench-{i:04d}" for i in range(OBJECTS)]
    sent: dict[str, float] = {}
    queue: asyncio.Queue[str] = asyncio.Queue()
    for name in names:
        queue.put_nowait(name)

    async def creator() -> None:
        while not queue.empty():
            name = queue.get_nowait()
            sent[name] = time.perf_counter()
            async with http.post(url + AS_PATH, json=session(name)) as r:
                assert r.status == 201, await r.text()

    with Operator(url) as operator:
        # Unloaded latency first: one object at a time, each waited for.
        single: list[float] = []
        for i in range(SEQUENTIAL):
            name = f"single-{i:03d}"
            t = time.perf_counter()
            async with http.post(url + AS_PATH, json=session(name)) as r:
                assert r.status == 201, await r.text()

            async def seen(name: str = name) -> bool:
                return name in operator.observed

            await wait_for(seen, 30, name)
            single.append(operator.observed[name] - t)
        report.add(
            "kopf create->observed, one at a time", objects=SEQUENTIAL, **summarize_ms(single)
        )
        for i in range(SEQUENTIAL):
            async with http.delete(f"{url}{AS_PATH}/single-{i:03d}") as r:
                assert r.status == 200

        async def drained() -> bool:
            async with http.get(url + AS_PATH) as r:
                return not (await r.json())["items"]

        await wait_for(drained, 60, "sequential objects deleted")
        started = time.perf_counter()
        await asyncio.gather(*(creator() for _ in range(CONCURRENCY)))
        created = time.perf_counter()

        async def all_observed() -> bool:
            return all(n in operator.observed for n in names)

        await wait_for(all_observed, 120, "kopf saw every object")
        observed = time.perf_counter()
        latencies = [operator.observed[n] - sent[n] for n in names]
        report.add(
            f"kopf create->observed, burst of {OBJECTS}",
            objects=OBJECTS,
            **summarize_ms(latencies),
            create_s=round(created - started, 2),
            all_observed_s=round(observed - started, 2),
            server_rss_mib=rss_mib(pid),
        )

        async def ready_count() -> int:
            async with http.get(url + AS_PATH) as r:
                items = (await r.json())["items"]
            return sum(1 for o in items if (o.get("status") or {}).get("phase") == "Ready")

        async def all_ready() -> bool:
            return await ready_count() >= OBJECTS

        await wait_for(all_ready, 120, "every status patched")
        handled = time.perf_counter()
        for name in names:
            queue.put_nowait(name)

        async def deleter() -> None:
            while not queue.empty():
                name = queue.get_nowait()
                async with http.delete(f"{url}{AS_PATH}/{name}") as r:
                    assert r.status == 200, await r.text()

        delete_started = time.perf_counter()
        await asyncio.gather(*(deleter() for _ in range(CONCURRENCY)))

        async def all_gone() -> bool:
            async with http.get(url + AS_PATH) as r:
                return not (await r.json())["items"]

        await wait_for(all_gone, 120, "kopf released every finalizer")
        finished = time.perf_counter()
        report.add(
            "kopf full lifecycle",
            objects=OBJECTS,
            status_patched_s=round(handled - started, 2),
            delete_until_gone_s=round(finished - delete_started, 2),
            total_s=round(finished - started, 2),
            server_rss_mib=rss_mib(pid),
        )


async def bench_http_lookup(
    http: aiohttp.ClientSession, url: str, pid: int, report: Report
) -> None:
    stored = 0
    for size in SIZES:
        payloads = [
            {"metadata": {"name": f"cm-{i:05d}"}, "data": {"k": "v" * 64}}
            for i in range(stored, size)
        ]
        sem = asyncio.Semaphore(CONCURRENCY)

        async def create(body: dict[str, Any], sem: asyncio.Semaphore = sem) -> None:
            async with sem, http.post(url + CMS, json=body) as r:
                assert r.status == 201

        await asyncio.gather(*(create(p) for p in payloads))
        stored = size
        gets: list[float] = []
        for i in range(SAMPLES):
            name = f"cm-{(i * 7919) % size:05d}"
            t = time.perf_counter()
            async with http.get(f"{url}{CMS}/{name}") as r:
                await r.read()
            gets.append(time.perf_counter() - t)
        deletes: list[float] = []
        recreate = []
        for i in range(min(SAMPLES, size)):
            name = f"cm-{(i * 7919) % size:05d}"
            t = time.perf_counter()
            async with http.delete(f"{url}{CMS}/{name}") as r:
                await r.read()
            deletes.append(time.perf_counter() - t)
            recreate.append({"metadata": {"name": name}, "data": {"k": "v" * 64}})
        await asyncio.gather(*(create(p) for p in recreate))
        report.add(
            f"http get @{size}", stored=size, **summarize_ms(gets), server_rss_mib=rss_mib(pid)
        )
        report.add(f"http delete @{size}", stored=size, **summarize_ms(deletes))


def bench_in_process(report: Report) -> None:
    """The store without HTTP, so a growth in cost could not hide in the noise."""
    api = KubeApi()
    rtype: ResourceType = api.rtype(("", "configmaps"))
    ctx = WriteContext()
    stored = 0
    for size in SIZES:
        for i in range(stored, size):
            api.create(rtype, "default", {"metadata": {"name": f"cm-{i:05d}"}}, WriteContext())
        stored = size
        t = time.perf_counter()
        for i in range(2000):
            api.get(rtype, "default", f"cm-{(i * 7919) % size:05d}")
        get_us = (time.perf_counter() - t) / 2000 * 1e6
        names = [f"cm-{(i * 7919) % size:05d}" for i in range(min(500, size))]
        names = list(dict.fromkeys(names))
        t = time.perf_counter()
        for name in names:
            api.delete(rtype, "default", name, {}, ctx)
        delete_us = (time.perf_counter() - t) / len(names) * 1e6
        for name in names:
            api.create(rtype, "default", {"metadata": {"name": name}}, WriteContext())
        report.add(
            f"in-process @{size}",
            stored=size,
            get_us=round(get_us, 2),
            delete_us=round(delete_us, 2),
        )


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    report = Report("kube")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from cephalon_devkit.cli import main; raise SystemExit(main())",
            "--log-level",
            "WARNING",
            "dev",
            "kube",
            "--port",
            str(port),
            "--kubeconfig",
            str(kubeconfig),
        )
        try:
            deadline = time.monotonic() + 30
            while not kubeconfig.exists():
                if time.monotonic() > deadline:
                    raise TimeoutError("emulator did not start")
                await asyncio.sleep(0.05)
            report.add("server idle", server_rss_mib=rss_mib(server.pid))
            connector = aiohttp.TCPConnector(limit=CONCURRENCY * 2)
            async with aiohttp.ClientSession(connector=connector) as http:
                await bench_kopf(http, url, server.pid, report)
                await bench_http_lookup(http, url, server.pid, report)
        finally:
            server.terminate()
            await server.wait()
    bench_in_process(report)
    report.emit()


if __name__ == "__main__":
    asyncio.run(main())
