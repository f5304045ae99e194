"""Operator benchmarks: AgentSession create → session pod created, against the emulator.

Run: ``.venv/bin/python benchmarks/bench_operator.py [--sessions N]``. Prints a table and
writes ``bench-results/operator.json``. Measured in one run, side by side:

* baseline: the same pods created directly through the API (create → pod seen in a watch);
* a burst of 200 AgentSessions and a steady 10/s stream (create → pod seen);
* the operator's RSS once N sessions exist;
* status writes per session per minute while runtimes report progress every 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).parent))
from report import Report, summarize_ms  # noqa: E402

from cephalon_contracts.heartbeat import Heartbeat, TurnProgress  # noqa: E402
from cephalon_contracts.keys import heartbeat_key  # noqa: E402
from cephalon_devkit.kube import KubeApiServer  # noqa: E402
from cephalon_devkit.redis_server import running_redis  # noqa: E402
from cephalon_devkit.testing.api import KubeHttp, eventually, resource_path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
NS = "cephalon-discord-bench"
AS = "cephalon.dev/v1alpha1"


def session(name: str) -> dict[str, Any]:
    return {
        "apiVersion": AS,
        "kind": "AgentSession",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "provider": "discord",
            "tenant": "bench",
            "owner": {"id": name, "name": name},
            "conversation": {"channel": "1"},
        },
    }


class PodWatch:
    """Records when each pod is first seen, from one watch stream."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def run(self, session: aiohttp.ClientSession, url: str, path: str) -> None:
        async with session.get(f"{url}{path}?watch=1&allowWatchBookmarks=false") as response:
            async for line in response.content:
                event = json.loads(line)
                name = event["object"]["metadata"]["name"]
                self.seen.setdefault(name, time.perf_counter())
                self.changed.set()


class StatusWatch:
    def __init__(self) -> None:
        self.writes: dict[str, int] = {}

    async def run(self, session: aiohttp.ClientSession, url: str, path: str) -> None:
        async with session.get(f"{url}{path}?watch=1") as response:
            async for line in response.content:
                event = json.loads(line)
                if event["type"] == "MODIFIED":
                    name = event["object"]["metadata"]["name"]
                    self.writes[name] = self.writes.get(name, 0) + 1


async def wait_seen(watch: PodWatch, names: list[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not all(n in watch.seen for n in names):
        if time.monotonic() > deadline:
            missing = [n for n in names if n not in watch.seen]
            raise TimeoutError(f"{len(missing)} pods never appeared, e.g. {missing[:3]}")
        watch.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watch.changed.wait(), 1)


@contextlib.asynccontextmanager
async def operator_process(
    kubeconfig: Path, redis_url: str, password_file: Path, log: Path
) -> AsyncIterator[int]:
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "CEPHALON_REDIS__URL": redis_url,
        "CEPHALON_REDIS__USERNAME": "cephalon-operator",
        "CEPHALON_REDIS__PASSWORD_FILE": str(password_file),
    }
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cephalon_operator.main",
            "--metrics-port",
            "0",
            "--liveness",
            "",
            "--log-level",
            "WARNING",
            env=env,
            stdout=out,
            stderr=out,
        )
        try:
            yield process.pid
        finally:
            process.terminate()
            await process.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def create_all(
    http: KubeHttp, names: list[str], created: dict[str, float], limit: int = 16
) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(name: str) -> None:
        async with gate:
            created[name] = time.perf_counter()
            await http.create(resource_path(AS, "agentsessions", NS), session(name))

    await asyncio.gather(*(one(n) for n in names))


async def main(total_sessions: int) -> None:
    report = Report("operator")
    server = KubeApiServer()
    await server.start()
    work = Path(os.environ.get("CEPHALON_BENCH_DIR", "bench-results"))
    work.mkdir(parents=True, exist_ok=True)
    kubeconfig = server.write_kubeconfig(work / "operator-bench.kubeconfig")
    try:
        async with running_redis() as redis_server, aiohttp.ClientSession() as client:
            redis = aioredis.Redis(
                host=redis_server.host,
                port=redis_server.port,
                username=redis_server.admin_user,
                password=redis_server.admin_password,
            )
            http = KubeHttp(client, server.url)
            await http.apply_crds(REPO / "crds")
            for ns in ("cephalon-system", NS):
                await http.create(
                    "/api/v1/namespaces",
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                )
            pods = PodWatch()
            pod_watch = asyncio.create_task(
                pods.run(client, server.url, resource_path("v1", "pods", NS))
            )

            # Baseline: the same pods, created directly.
            created: dict[str, float] = {}
            direct = [f"direct-{i}" for i in range(200)]
            gate = asyncio.Semaphore(16)

            async def direct_pod(name: str) -> None:
                async with gate:
                    created[name] = time.perf_counter()
                    await http.create(
                        resource_path("v1", "pods", NS),
                        {
                            "apiVersion": "v1",
                            "kind": "Pod",
                            "metadata": {"name": name},
                            "spec": {"containers": [{"name": "c", "image": "x"}]},
                        },
                    )

            started = time.perf_counter()
            await asyncio.gather(*(direct_pod(n) for n in direct))
            await wait_seen(pods, direct)
            baseline = summarize_ms([pods.seen[n] - created[n] for n in direct])
            report.add(
                "baseline: 200 pods created directly",
                **baseline,
                total_s=round(time.perf_counter() - started, 2),
            )

            tenant = {
                "apiVersion": AS,
                "kind": "ProviderTenant",
                "metadata": {"name": "discord-bench"},
                "spec": {
                    "provider": "discord",
                    "tenant": "bench",
                    "credentialsSecretRef": {"name": "bench-credentials"},
                    "models": {"default": "m"},
                    "sessions": {"namespace": NS, "maxConcurrent": 10000, "maxPerUser": 10},
                },
            }
            await http.create(resource_path(AS, "providertenants"), tenant)
            async with operator_process(
                kubeconfig,
                redis_server.url,
                redis_server.admin_password_file,
                work / "operator-bench.log",
            ) as pid:

                async def tenant_ready() -> bool:
                    return (
                        await http.get(
                            resource_path(
                                "apps/v1",
                                "deployments",
                                "cephalon-system",
                                "cephalon-discord-bench-model-gateway",
                            )
                        )
                        is not None
                    )

                await eventually(tenant_ready, timeout=60, what="the tenant footprint")

                burst = [f"s-burst-{i}" for i in range(200)]
                created.clear()
                started = time.perf_counter()
                await create_all(http, burst, created)
                await wait_seen(pods, [f"{n}-pod" for n in burst])
                burst_stats = summarize_ms([pods.seen[f"{n}-pod"] - created[n] for n in burst])
                report.add(
                    "operator: burst of 200 sessions",
                    **burst_stats,
                    total_s=round(time.perf_counter() - started, 2),
                    overhead_p50_ratio=round(burst_stats["p50_ms"] / baseline["p50_ms"], 1),
                )

                steady = [f"s-steady-{i}" for i in range(100)]
                created.clear()
                started = time.perf_counter()
                for name in steady:
                    created[name] = time.perf_counter()
                    await http.create(resource_path(AS, "agentsessions", NS), session(name))
                    await asyncio.sleep(max(0.0, 0.1 - (time.perf_counter() - created[name])))
                await wait_seen(pods, [f"{n}-pod" for n in steady])
                steady_stats = summarize_ms([pods.seen[f"{n}-pod"] - created[n] for n in steady])
                report.add(
                    "operator: steady 10 sessions/s",
                    **steady_stats,
                    total_s=round(time.perf_counter() - started, 2),
                    overhead_p50_ratio=round(steady_stats["p50_ms"] / baseline["p50_ms"], 1),
                )

                # Status writes while runtimes stream progress every 100 ms.
                streaming = burst[:20]
                moment = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
                for name in streaming:
                    await http.merge_patch(
                        resource_path("v1", "pods", NS, f"{name}-pod") + "/status",
                        {
                            "status": {
                                "phase": "Running",
                                "conditions": [
                                    {
                                        "type": "PodScheduled",
                                        "status": "True",
                                        "lastTransitionTime": moment,
                                    }
                                ],
                                "containerStatuses": [
                                    {
                                        "name": "runtime",
                                        "ready": True,
                                        "restartCount": 0,
                                        "image": "x",
                                        "imageID": "x",
                                        "state": {},
                                    }
                                ],
                            }
                        },
                    )
                statuses = StatusWatch()
                status_watch = asyncio.create_task(
                    statuses.run(client, server.url, resource_path(AS, "agentsessions", NS))
                )
                window = 15.0
                deadline = time.monotonic() + window
                step = 0
                while time.monotonic() < deadline:
                    step += 1
                    for name in streaming:
                        beat = Heartbeat(
                            at=datetime.now(UTC),
                            ready=True,
                            busy=True,
                            last_activity_at=datetime.now(UTC),
                            progress=TurnProgress(
                                turn=1, step=f"step-{step}", message=f"delta {step}"
                            ),
                        )
                        key = heartbeat_key(provider="discord", tenant="bench", session_id=name)
                        await redis.set(key, beat.model_dump_json(), ex=60)
                    await asyncio.sleep(0.1)
                status_watch.cancel()
                writes = [statuses.writes.get(n, 0) for n in streaming]
                report.add(
                    "status writes per session per minute (progress every 100 ms)",
                    n=float(len(streaming)),
                    mean_per_min=round(sum(writes) / len(writes) * 60 / window, 1),
                    max_per_min=round(max(writes) * 60 / window, 1),
                )

                extra = [f"s-extra-{i}" for i in range(max(0, total_sessions - 300))]
                created.clear()
                await create_all(http, extra, created)
                await wait_seen(pods, [f"{n}-pod" for n in extra], timeout=900)
                await asyncio.sleep(3)
                report.add(
                    f"operator RSS with {total_sessions} sessions", rss_mb=round(rss_mb(pid), 1)
                )
            pod_watch.cancel()
            await redis.aclose()
    finally:
        await server.stop()
    report.emit()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=1000, help="sessions for the RSS figure")
    asyncio.run(main(parser.parse_args().sessions))
