"""Model gateway (issue 7): what the gateway adds on top of talking to the provider
directly, measured in the same run against the same scripted model.

* added latency: time to first content byte and total, p50/p99, stub direct vs through
  the gateway (sequential requests, interleaved so drift hits both alike);
* streamed tokens per second of one long answer, direct vs through the gateway;
* requests per second one gateway replica sustains with 100 concurrent streams.

Run: ``.venv/bin/python benchmarks/bench_model_gateway.py`` (prints a table, writes
``bench-results/model_gateway.json``). Redis, the scripted model and the gateway each
run as their own process (``cephalon-model-gateway``, configured as the operator
configures it); this process is only the client. Benchmarks report; they do not assert.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).parent))
from report import Report, summarize_ms  # noqa: E402

from cephalon_devkit.redis_server import free_port, running_redis  # noqa: E402
from cephalon_operator.credentials import (  # noqa: E402
    SessionRef,
    apply_access_user,
    apply_session_credentials,
    new_session_credentials,
)

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
SAMPLES = 200
CONCURRENT = 100
LOAD_SECONDS = 10.0
SHORT = "The build uses uv workspaces; run make setup first, then make test. " * 2
LONG = "token " * 4000  # 4,000 chunks of one token each


def script() -> dict[str, Any]:
    usage = {"prompt_tokens": 1000, "completion_tokens": 4000}
    return {
        "models": ["gpt-4.1"],
        "steps": [
            {"match": {"user_contains": "short"}, "repeat": True, "reply": SHORT, "chunk_chars": 8},
            {"match": {"user_contains": "long"}, "repeat": True, "reply": LONG, "chunk_chars": 6,
             "usage": usage},
        ],
    }  # fmt: skip


def body(kind: str) -> dict[str, Any]:
    return {
        "model": "gpt-4.1",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [
            {"role": "system", "content": "x" * 20_000},  # like the CLI's ~21 KB prompt
            {"role": "user", "content": f"{kind} question"},
        ],
    }


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def wait_ready(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code < 500:
                    return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


async def timed_stream(
    client: httpx.AsyncClient, url: str, token: str, kind: str
) -> tuple[float, float, int]:
    """(time to first content byte, total, completion tokens) of one streamed answer."""
    started = time.perf_counter()
    first = 0.0
    tokens = 0
    async with client.stream(
        "POST", url, json=body(kind), headers={"authorization": f"Bearer {token}"}
    ) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            if not first and '"content":"' in line and '"content":""' not in line:
                first = time.perf_counter()
            if '"usage"' in line:
                tokens = json.loads(line[6:])["usage"]["completion_tokens"]
    return first - started, time.perf_counter() - started, tokens


@contextlib.asynccontextmanager
async def stack(tmp: Path) -> AsyncIterator[dict[str, str]]:
    """Redis, the scripted model and one gateway replica; yields URLs and credentials."""
    async with running_redis(tmp / "redis") as server:
        admin = aioredis.Redis(host=server.host, port=server.port, username=server.admin_user,
                               password=server.admin_password, decode_responses=True)  # fmt: skip
        gw_password = secrets.token_urlsafe(24)
        await apply_access_user(
            admin, "model-gateway", "discord", "bench", gw_password, "promethean"
        )
        ref = SessionRef("discord", "bench", "s-bench")
        creds = new_session_credentials(ref)
        await apply_session_credentials(admin, ref, creds)
        await admin.aclose()
        files = tmp / "files"
        files.mkdir()
        upstream_key = f"sk-bench-fake-{secrets.token_hex(8)}"
        for name, value in [("upstream-key", upstream_key), ("username", "model-gateway"),
                            ("password", gw_password)]:  # fmt: skip
            (files / name).write_text(value)
        (files / "script.json").write_text(json.dumps(script()))
        model_port, gateway_port = free_port(), free_port()
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp)}
        model_args = [str(BIN / "python"), "-m", "cephalon_devkit.model", "--port", str(model_port),
                      "--script", str(files / "script.json"),
                      "--api-key-file", str(files / "upstream-key")]  # fmt: skip
        gateway_env = env | {
            "CEPHALON_PROVIDER": "discord",
            "CEPHALON_TENANT": "bench",
            "CEPHALON_TOPIC_ROOT": "promethean",
            "CEPHALON_REDIS__URL": server.url,
            "CEPHALON_REDIS__USERNAME_FILE": str(files / "username"),
            "CEPHALON_REDIS__PASSWORD_FILE": str(files / "password"),
            "CEPHALON_HTTP__HOST": "127.0.0.1",
            "CEPHALON_HTTP__PORT": str(gateway_port),
            "CEPHALON_MODEL__UPSTREAM_KIND": "openai",
            "CEPHALON_MODEL__UPSTREAM_BASE_URL": f"http://127.0.0.1:{model_port}/v1",
            "CEPHALON_MODEL__DEFAULT": "gpt-4.1",
            "CEPHALON_MODEL__ALLOWED": "gpt-4.1",
            "CEPHALON_MODEL__UPSTREAM_KEY_FILE": str(files / "upstream-key"),
            "CEPHALON_BUDGET__SESSION_TOKENS": "",
            "CEPHALON_BUDGET__TENANT_CONCURRENCY": "500",
            "CEPHALON_LOG__LEVEL": "WARNING",
        }
        with (
            process(model_args, env, tmp / "model.log"),
            process([str(BIN / "cephalon-model-gateway")], gateway_env, tmp / "gateway.log") as gw,
        ):
            await wait_ready(f"http://127.0.0.1:{model_port}/v1/models")
            await wait_ready(f"http://127.0.0.1:{gateway_port}/readyz")
            yield {
                "direct": f"http://127.0.0.1:{model_port}/v1/chat/completions",
                "gateway": f"http://127.0.0.1:{gateway_port}/v1/chat/completions",
                "direct_token": upstream_key,
                "gateway_token": creds.model_token,
                "gateway_pid": str(gw.pid),
            }


async def latency(report: Report, urls: dict[str, str]) -> None:
    samples: dict[str, tuple[list[float], list[float]]] = {"direct": ([], []), "gateway": ([], [])}
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(10):
            for path in samples:
                await timed_stream(client, urls[path], urls[f"{path}_token"], "short")
        for _ in range(SAMPLES):
            for path, (ttfb, total) in samples.items():
                first, whole, _ = await timed_stream(
                    client, urls[path], urls[f"{path}_token"], "short"
                )
                ttfb.append(first)
                total.append(whole)
    for path, (ttfb, total) in samples.items():
        t, w = summarize_ms(ttfb), summarize_ms(total)
        report.add(f"latency {path}", n=len(ttfb), ttfb_p50_ms=t["p50_ms"], ttfb_p99_ms=t["p99_ms"],
                   total_p50_ms=w["p50_ms"], total_p99_ms=w["p99_ms"])  # fmt: skip
    (dt, dw), (gt, gw) = samples["direct"], samples["gateway"]
    added_t = [g - d for g, d in zip(gt, dt, strict=True)]
    added_w = [g - d for g, d in zip(gw, dw, strict=True)]
    t, w = summarize_ms(added_t), summarize_ms(added_w)
    report.add("latency added by gateway", n=len(added_t),
               ttfb_p50_ms=t["p50_ms"], ttfb_p99_ms=t["p99_ms"],
               total_p50_ms=w["p50_ms"], total_p99_ms=w["p99_ms"])  # fmt: skip


async def throughput(report: Report, urls: dict[str, str]) -> None:
    async with httpx.AsyncClient(timeout=120) as client:
        for path in ("direct", "gateway"):
            rates = []
            for _ in range(3):
                first, whole, tokens = await timed_stream(
                    client, urls[path], urls[f"{path}_token"], "long"
                )
                rates.append(tokens / (whole - first))
            report.add(f"stream {path}", tokens=tokens, tokens_per_s=round(max(rates)))


async def load(report: Report, urls: dict[str, str], path: str) -> None:
    """Requests/s with CONCURRENT streams open all the time (the client only counts
    bytes, so that it costs as little CPU as possible on a shared machine)."""
    size = CONCURRENT + 10
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    done: list[float] = []
    errors: list[str] = []
    headers = {"authorization": f"Bearer {urls[f'{path}_token']}"}
    payload = json.dumps(body("short")).encode()
    deadline = time.perf_counter() + LOAD_SECONDS

    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                tail = b""
                try:
                    async with client.stream(
                        "POST", urls[path], content=payload, headers=headers
                    ) as response:
                        async for piece in response.aiter_raw():
                            tail = (tail + piece)[-64:]
                except httpx.HTTPError as e:
                    errors.append(type(e).__name__)
                    continue
                if response.status_code != 200 or b"[DONE]" not in tail:
                    errors.append(f"HTTP {response.status_code}")
                    continue
                done.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENT)))
        elapsed = time.perf_counter() - started
    w = summarize_ms(done)
    kinds = ",".join(sorted(set(errors))) or "-"
    report.add(f"{CONCURRENT} concurrent streams {path}", requests=len(done),
               errors=f"{len(errors)} ({kinds})", requests_per_s=round(len(done) / elapsed, 1),
               total_p50_ms=w["p50_ms"], total_p99_ms=w["p99_ms"])  # fmt: skip


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


async def main() -> None:
    report = Report("model_gateway")
    with tempfile.TemporaryDirectory(prefix="bench-gw-") as tmp:
        async with stack(Path(tmp)) as urls:
            await latency(report, urls)
            await throughput(report, urls)
            await load(report, urls, "direct")
            pid = int(urls["gateway_pid"])
            before, requests_before = cpu_s(pid), len(report.rows)
            await load(report, urls, "gateway")
            served = report.rows[requests_before]["requests"]
            report.add("gateway CPU per request under load",
                       cpu_ms=round((cpu_s(pid) - before) * 1000 / max(1, served), 2))  # fmt: skip
            report.add("gateway RSS after load", rss_mib=rss_mib(int(urls["gateway_pid"])))
    report.emit()


if __name__ == "__main__":
    asyncio.run(main())
