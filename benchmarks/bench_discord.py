"""Discord gateway (issue 6): interaction ACK latency, delta → visible edit latency,
Discord requests per answered turn, and 429s with 50 sessions streaming at once — for
the real gateway and, in the same run, a naive edit-per-delta renderer.

Run: ``.venv/bin/python benchmarks/bench_discord.py`` (prints a table, writes
``bench-results/discord.json``). Everything runs in this process against the Discord
emulator with Discord's default limits, the Kubernetes API emulator and a real
redis-server (the gateway authenticates as its confined access user). Benchmarks
report; they do not assert.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import discord
import uvicorn
import yaml
from discord.http import Route

sys.path.insert(0, str(Path(__file__).parent))
from report import Report, summarize_ms  # noqa: E402

from cephalon_contracts import (  # noqa: E402
    Final,
    FinalStatus,
    ResponseDelta,
    encode_envelope,
    envelope,
    new_id,
)
from cephalon_devkit.discord import DiscordEmulator  # noqa: E402
from cephalon_devkit.kube import KubeApiServer  # noqa: E402
from cephalon_devkit.redis_server import free_port, running_redis  # noqa: E402
from cephalon_gateway.discord_access.app import create_app  # noqa: E402
from cephalon_gateway.discord_access.keys import KeySpace  # noqa: E402
from cephalon_gateway.discord_access.kube import KubeClient  # noqa: E402
from cephalon_gateway.discord_access.service import GatewayService  # noqa: E402
from cephalon_gateway.discord_access.settings import (  # noqa: E402
    GatewaySettings,
    load_credentials,
)
from cephalon_operator.credentials import apply_access_user  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
NS = "cephalon-discord-duck"
SPACE = KeySpace("discord", "duck", "promethean")
ACKS = 200
SESSIONS = int(os.environ.get("BENCH_SESSIONS", "50"))
DELTAS = 30
DELTA_EVERY = 0.1
CHANNEL_ROUTES = {"create_message", "edit_message", "typing", "delete_message"}


def answer(i: int) -> list[str]:
    return [f"[s{i} d{n}] " + "word " * 18 + "\n" for n in range(DELTAS)]


class Bench:
    def __init__(self, emu: DiscordEmulator, kube: KubeClient, kubeconfig: Path) -> None:
        self.emu = emu
        self.kube = kube
        self.kubeconfig = kubeconfig
        self.guild = emu.create_guild("bench")
        self.user = emu.create_member(self.guild.id, "ada")
        self.lobby = emu.create_channel(self.guild.id, "lobby")

    async def cluster(self) -> None:
        for path in sorted((REPO / "crds").glob("*.yaml")):
            await self.kube.request(
                "POST",
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                body=yaml.safe_load(path.read_text()),
            )
        await self.kube.request(
            "POST", "/api/v1/namespaces",
            body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        )  # fmt: skip
        await self.kube.request(
            "POST",
            "/apis/cephalon.dev/v1alpha1/providertenants",
            body={
                "apiVersion": "cephalon.dev/v1alpha1",
                "kind": "ProviderTenant",
                "metadata": {"name": "discord-duck"},
                "spec": {
                    "provider": "discord",
                    "tenant": "duck",
                    "credentialsSecretRef": {"name": "x"},
                    "allow": {"guilds": [str(self.guild.id)]},
                    "gateway": {"startChatChannels": [str(self.lobby.id)]},
                    "models": {"default": "gpt-4.1"},
                },
            },
        )

    async def sessions(self, prefix: str, n: int) -> list[tuple[str, int]]:
        out = []
        for i in range(n):
            channel = self.emu.create_channel(self.guild.id, f"{prefix}-{i}")
            name = f"s-{prefix}-{i}"
            await self.kube.request(
                "POST",
                f"/apis/cephalon.dev/v1alpha1/namespaces/{NS}/agentsessions",
                body={
                    "apiVersion": "cephalon.dev/v1alpha1",
                    "kind": "AgentSession",
                    "metadata": {"name": name, "namespace": NS},
                    "spec": {
                        "provider": "discord",
                        "tenant": "duck",
                        "owner": {"id": str(self.user.id), "name": "ada"},
                        "conversation": {"guild": str(self.guild.id), "channel": str(channel.id)},
                    },
                },
            )
            out.append((name, channel.id))
        return out


class TimedInteractions:
    """ASGI wrapper: time from request start to the response's first byte for
    ``/discord/interactions`` (the ACK as the gateway sends it)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.samples: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/discord/interactions":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.samples.append(time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, timed_send)


def settings(emu: DiscordEmulator, redis_url: str, files: Path, port: int) -> GatewaySettings:
    return GatewaySettings.model_validate(
        {
            "provider": "discord",
            "tenant": "duck",
            "session_namespace": NS,
            "pod_name": "bench-0",
            "log_json": False,
            "redis": {
                "url": redis_url,
                "username_file": files / "redis-user",
                "password_file": files / "redis-password",
            },
            "http": {"host": "127.0.0.1", "port": port},
            "discord": {
                "token_file": files / "token",
                "public_key_file": files / "public-key",
                "app_id_file": files / "app-id",
                "api_base": emu.api_base,
                "gateway_url": emu.gateway_url,
            },
        }
    )


async def measure_stream(
    emu: DiscordEmulator,
    sessions: list[tuple[str, int]],
    publish: Any,
) -> dict[str, Any]:
    """Stream one turn per session; returns latencies, request and 429 counts."""
    start_seq = len(emu.requests)
    targets: list[tuple[int, int, float]] = []  # (channel, cumulative length, written at)
    finished = asyncio.Event()

    async def run(i: int, name: str, channel: int) -> None:
        turn, total = new_id(), 0
        parts = answer(i)
        for seq, part in enumerate(parts):
            await publish(name, channel, turn, ResponseDelta(seq=seq, text=part))
            total += len(part)
            targets.append((channel, total, time.monotonic()))
            await asyncio.sleep(DELTA_EVERY)
        await publish(name, channel, turn, Final(status=FinalStatus.COMPLETED, text="".join(parts)))

    latencies: list[float] = []
    pending: list[tuple[int, int, float]] = []

    async def watch() -> None:
        seen = 0
        deadline = float("inf")
        while not finished.is_set() or pending or seen < len(targets):
            if finished.is_set() and deadline == float("inf"):
                deadline = time.monotonic() + 120
            if time.monotonic() > deadline:
                break
            pending.extend(targets[seen:])
            seen = len(targets)
            now = time.monotonic()
            shown = {c: sum(len(m.content) for m in emu.messages(c)) for _, c in sessions}
            still = []
            for channel, length, at in pending:
                if shown[channel] >= length:
                    latencies.append(now - at)
                else:
                    still.append((channel, length, at))
            pending[:] = still
            if finished.is_set() and not pending and seen == len(targets):
                break
            await asyncio.sleep(0.01)

    lags: list[float] = []

    async def lag() -> None:
        while not finished.is_set():
            t = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - t - 0.01)

    lagger = asyncio.create_task(lag())
    watcher = asyncio.create_task(watch())
    started = time.monotonic()
    await asyncio.gather(*(run(i, n, c) for i, (n, c) in enumerate(sessions)))
    finished.set()
    await watcher
    await lagger
    elapsed = time.monotonic() - started
    if os.environ.get("BENCH_TRACE"):
        for r in emu.requests[start_seq:]:
            if r.route in CHANNEL_ROUTES:
                offset = r.started_at - emu.requests[start_seq].started_at
                sys.stderr.write(f"{offset:7.3f} {r.route} {r.status} {r.path[-24:]}\n")
    requests = [r for r in emu.requests[start_seq:] if r.route in CHANNEL_ROUTES]
    return {
        "latency": latencies,
        "requests_per_turn": round(len(requests) / len(sessions), 1),
        "429s": sum(1 for r in requests if r.status == 429),
        "seconds": round(elapsed, 1),
        "never_visible": len(pending),
        "loop_lag_p95_ms": summarize_ms(lags)["p95_ms"],
    }


def stream_row(result: dict[str, Any]) -> dict[str, Any]:
    latency = summarize_ms(result["latency"])
    return {
        "visible_p50_ms": latency["p50_ms"],
        "visible_p95_ms": latency["p95_ms"],
        "visible_max_ms": latency["max_ms"],
        "requests_per_turn": result["requests_per_turn"],
        "rate_limited": result["429s"],
        "never_visible": result["never_visible"],
        "seconds": result["seconds"],
        "loop_lag_p95_ms": result["loop_lag_p95_ms"],
    }


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    report = Report("discord")
    async with running_redis() as redis_server, DiscordEmulator() as emu:
        kube_server = KubeApiServer()
        await kube_server.start()
        base, gateway_url = Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        with tempfile.TemporaryDirectory() as tmp:
            files = Path(tmp)
            kubeconfig = kube_server.write_kubeconfig(files / "kubeconfig")
            import redis.asyncio as aioredis

            admin = aioredis.Redis(
                host=redis_server.host, port=redis_server.port,
                username=redis_server.admin_user, password=redis_server.admin_password,
                decode_responses=True,
            )  # fmt: skip
            password = secrets.token_hex(16)
            await apply_access_user(admin, "gw", "discord", "duck", password, "promethean")
            for name, value in {
                "token": emu.bot_token, "public-key": emu.public_key,
                "app-id": str(emu.application_id), "redis-user": "gw",
                "redis-password": password,
            }.items():  # fmt: skip
                (files / name).write_text(value)
            kube = await KubeClient.from_environment(str(kubeconfig))
            bench = Bench(emu, kube, kubeconfig)
            await bench.cluster()
            ours = await bench.sessions("ours", SESSIONS)
            port = free_port()
            s = settings(emu, redis_server.url, files, port)
            service = GatewayService(s, load_credentials(s), kubeconfig=str(kubeconfig))
            timed = TimedInteractions(create_app(service))
            server = uvicorn.Server(
                uvicorn.Config(timed, host="127.0.0.1", port=port,
                               log_level="error", lifespan="on")
            )  # fmt: skip
            task = asyncio.create_task(server.serve())
            while not server.started:
                await asyncio.sleep(0.02)
            emu.set_interactions_url(f"http://127.0.0.1:{port}/discord/interactions")
            while len(service.renders.tasks if service.renders else ()) < SESSIONS:
                await asyncio.sleep(0.05)

            # 1. ACK latency at 200 concurrent signed interactions: a cold burst (the
            #    Redis pool grows, connections authenticate), then a warm one.
            for label in ("cold", "warm"):
                timed.samples.clear()
                interactions = await asyncio.gather(
                    *(emu.run_command(bench.lobby.id, bench.user, "status") for _ in range(ACKS))
                )
                # Let the follow-ups finish before the next burst or phase.
                while any(
                    i.original_message_id is None
                    or not emu.world.messages[i.original_message_id].content
                    for i in interactions
                ):
                    await asyncio.sleep(0.05)
                report.add(
                    f"ACK in the gateway, {label} ({ACKS} concurrent)",
                    **summarize_ms(timed.samples),
                )
                report.add(
                    f"ACK seen by the emulator, {label}",
                    **summarize_ms([i.http_elapsed or float("nan") for i in interactions]),
                    deferred=sum(1 for i in interactions if i.deferred),
                )

            # 2-4. The gateway's renderer, 50 sessions streaming at once.
            async def publish_ours(name: str, channel: int, turn: str, payload: Any) -> None:
                message = envelope(payload, provider="discord", tenant="duck",
                                   session_id=name, turn_id=turn)  # fmt: skip
                await admin.xadd(SPACE.events(name), {"envelope": encode_envelope(message)})

            result = await measure_stream(emu, ours, publish_ours)
            report.add(f"gateway renderer ({SESSIONS} sessions)", **stream_row(result))
            server.should_exit = True
            await task

            if os.environ.get("BENCH_SKIP_NAIVE"):
                report.emit()
                return
            # 5. The same workload, rendered naively: one edit per delta, no shared limiter.
            naive_sessions = [(f"naive-{i}", emu.create_channel(bench.guild.id, f"naive-{i}").id)
                              for i in range(SESSIONS)]  # fmt: skip
            client = discord.Client(intents=discord.Intents.none())
            await client.login(emu.bot_token)
            state: dict[int, tuple[str | None, str]] = {}
            failures: list[int] = []
            locks: dict[int, asyncio.Lock] = {}

            async def publish_naive(name: str, channel: int, turn: str, payload: Any) -> None:
                if not isinstance(payload, ResponseDelta):
                    return
                lock = locks.setdefault(channel, asyncio.Lock())

                async def edit() -> None:
                    try:
                        await edit_once()
                    except discord.HTTPException as e:
                        failures.append(e.status)

                async def edit_once() -> None:
                    async with lock:
                        message_id, text = state.get(channel, (None, ""))
                        text += payload.text
                        if message_id is None:
                            sent = await client.http.request(
                                Route("POST", "/channels/{channel_id}/messages",
                                      channel_id=channel), json={"content": text})  # fmt: skip
                            message_id = sent["id"]
                        else:
                            await client.http.request(
                                Route("PATCH", "/channels/{channel_id}/messages/{message_id}",
                                      channel_id=channel, message_id=message_id),
                                json={"content": text})  # fmt: skip
                        state[channel] = (message_id, text)

                asyncio.create_task(edit())  # noqa: RUF006 - finished before measuring ends

            naive = await measure_stream(emu, naive_sessions, publish_naive)
            report.add(f"naive edit-per-delta ({SESSIONS} sessions)", **stream_row(naive))
            report.add("naive failed requests", count=len(failures))
            await client.close()
            await kube.close()
            await admin.aclose()
        Route.BASE = base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway_url
        await kube_server.stop()
    report.emit()


if __name__ == "__main__":
    asyncio.run(main())
