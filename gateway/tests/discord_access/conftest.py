from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from cephalon_devkit.redis_server import RedisServer
from cephalon_gateway.discord_access.keys import KeySpace
from cephalon_operator.credentials import apply_access_user

PROVIDER, TENANT, ROOT = "discord", "duck", "promethean"


@dataclass(frozen=True, slots=True)
class AccessUser:
    username: str
    password: str


@pytest.fixture
def space() -> KeySpace:
    return KeySpace(PROVIDER, TENANT, ROOT)


@pytest.fixture
async def access_user(redis_admin: aioredis.Redis) -> AccessUser:
    """The gateway's Redis user, confined to the tenant's keys as in a cluster."""
    user = AccessUser("gateway-discord-duck", secrets.token_hex(16))
    await apply_access_user(redis_admin, user.username, PROVIDER, TENANT, user.password, ROOT)
    return user


@pytest.fixture
async def gateway_redis(
    redis_server: RedisServer, access_user: AccessUser
) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis(
        host=redis_server.host,
        port=redis_server.port,
        username=access_user.username,
        password=access_user.password,
        decode_responses=True,
    )
    try:
        yield client
    finally:
        await client.aclose()


# ------------------------------------------------------------------ integration world

import asyncio  # noqa: E402
import contextlib  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import discord  # noqa: E402
import uvicorn  # noqa: E402
import yaml  # noqa: E402
from discord.gateway import DiscordWebSocket  # noqa: E402

from cephalon_contracts import encode_envelope, envelope  # noqa: E402
from cephalon_contracts.envelope import PayloadModel  # noqa: E402
from cephalon_devkit.discord import (  # noqa: E402
    BucketRule,
    Channel,
    DiscordEmulator,
    DiscordLimits,
    Guild,
    User,
)
from cephalon_devkit.redis_server import free_port  # noqa: E402
from cephalon_devkit.testing.discord import MakeDiscordEmulator  # noqa: E402
from cephalon_devkit.testing.kube import KubeApiHandle, kube_api  # noqa: E402, F401
from cephalon_gateway.discord_access.app import create_app  # noqa: E402
from cephalon_gateway.discord_access.kube import AGENT_SESSIONS, KubeClient  # noqa: E402
from cephalon_gateway.discord_access.service import GatewayService  # noqa: E402
from cephalon_gateway.discord_access.sessions import SessionRecord  # noqa: E402
from cephalon_gateway.discord_access.settings import (  # noqa: E402
    GatewaySettings,
    load_credentials,
)

REPO = Path(__file__).resolve().parents[3]
NAMESPACE = "cephalon-discord-duck"


def fast_limits(**overrides: Any) -> DiscordLimits:
    """Discord's limits with shorter windows so tests stay fast (same shapes)."""
    buckets = {
        "create_message": BucketRule(5, 1.0),
        "edit_message": BucketRule(5, 1.0),
        "delete_message": BucketRule(5, 1.0),
        "typing": BucketRule(5, 1.0),
        "create_guild_channel": BucketRule(5, 1.0),
        "edit_channel": BucketRule(5, 1.0),
        "execute_webhook": BucketRule(5, 1.0),
        "edit_webhook_message": BucketRule(5, 1.0),
        "bulk_overwrite_commands": BucketRule(2, 5.0),
    }
    return DiscordLimits(buckets=buckets, default_bucket=BucketRule(5, 1.0), **overrides)


@dataclass
class RunningGateway:
    service: GatewayService
    server: uvicorn.Server
    task: asyncio.Task[None]
    port: int


class World:
    """Discord emulator + Kubernetes emulator + real Redis, with a tenant, a guild, a
    Start Chat channel and two users; starts real gateway processes in-loop."""

    def __init__(
        self,
        emu: DiscordEmulator,
        kube: KubeApiHandle,
        kclient: KubeClient,
        admin: aioredis.Redis,
        redis_server: RedisServer,
        access: AccessUser,
        tmp: Path,
    ) -> None:
        self.emu = emu
        self.kube = kube
        self.k = kclient
        self.admin = admin
        self.redis_server = redis_server
        self.access = access
        self.tmp = tmp
        self.space = KeySpace(PROVIDER, TENANT, ROOT)
        self.gateways: list[RunningGateway] = []
        self.guild: Guild = emu.create_guild("acme")
        self.owner: User = emu.create_member(self.guild.id, "ada")
        self.other: User = emu.create_member(self.guild.id, "bob")
        self.category: Channel = emu.create_category(self.guild.id, "sessions")
        self.lobby: Channel = emu.create_channel(self.guild.id, "lobby")

    def tenant_spec(self, **overrides: Any) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "provider": PROVIDER,
            "tenant": TENANT,
            "credentialsSecretRef": {"name": "discord-duck"},
            "allow": {"guilds": [str(self.guild.id)]},
            "gateway": {
                "startChatChannels": [str(self.lobby.id)],
                "sessionCategory": str(self.category.id),
            },
            "models": {"default": "gpt-4.1", "allowed": ["gpt-4.1", "gpt-5"]},
            "attachments": {"maxBytes": 1024, "allowedTypes": ["text/plain"]},
            "mcpServers": [{"name": "git", "image": "mcp/git:1", "port": 8701}],
        }
        for key, value in overrides.items():
            spec[key] = value if not isinstance(value, dict) else {**spec.get(key, {}), **value}
        return spec

    async def setup_cluster(self, **tenant_overrides: Any) -> None:
        for path in sorted((REPO / "crds").glob("*.yaml")):
            await self.k.request(
                "POST",
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                body=yaml.safe_load(path.read_text()),
            )
        await self.k.request(
            "POST",
            "/api/v1/namespaces",
            body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        )
        await self.k.request(
            "POST",
            "/apis/cephalon.dev/v1alpha1/providertenants",
            body={
                "apiVersion": "cephalon.dev/v1alpha1",
                "kind": "ProviderTenant",
                "metadata": {"name": f"{PROVIDER}-{TENANT}"},
                "spec": self.tenant_spec(**tenant_overrides),
            },
        )

    def settings(self, pod: str, port: int, **discord: Any) -> GatewaySettings:
        files = self.tmp / pod
        files.mkdir(exist_ok=True)
        for name, value in {
            "token": self.emu.bot_token,
            "public-key": self.emu.public_key,
            "app-id": str(self.emu.application_id),
            "redis-user": self.access.username,
            "redis-password": self.access.password,
        }.items():
            (files / name).write_text(value)
        return GatewaySettings.model_validate(
            {
                "provider": PROVIDER,
                "tenant": TENANT,
                "topic_root": ROOT,
                "session_namespace": NAMESPACE,
                "pod_name": pod,
                "log_json": False,
                "redis": {
                    "url": self.redis_server.url,
                    "username_file": files / "redis-user",
                    "password_file": files / "redis-password",
                },
                "http": {"host": "127.0.0.1", "port": port},
                "discord": {
                    "token_file": files / "token",
                    "public_key_file": files / "public-key",
                    "app_id_file": files / "app-id",
                    "api_base": self.emu.api_base,
                    "gateway_url": self.emu.gateway_url,
                    "render_lease_seconds": 1.5,
                    "edit_interval_seconds": 0.2,
                    "start_debounce_seconds": 5,
                    **discord,
                },
            }
        )

    async def start_gateway(self, pod: str = "gw-0", **discord: Any) -> RunningGateway:
        port = free_port()
        settings = self.settings(pod, port, **discord)
        service = GatewayService(
            settings, load_credentials(settings), kubeconfig=str(self.kube.kubeconfig_path)
        )
        config = uvicorn.Config(
            create_app(service), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        self.emu.set_interactions_url(f"http://127.0.0.1:{port}/discord/interactions")
        running = RunningGateway(service, server, task, port)
        self.gateways.append(running)
        return running

    async def stop_gateway(self, gateway: RunningGateway) -> None:
        gateway.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(gateway.task, 30)
        if gateway in self.gateways:
            self.gateways.remove(gateway)

    async def kill_gateway(self, gateway: RunningGateway) -> None:
        """A crash: renderers stop at once and leases are left to expire."""
        gateway.service.crashed = True
        if gateway.service.renders is not None:
            await gateway.service.renders.stop(release=False)
        await self.stop_gateway(gateway)

    # --- playing the operator and the runtime ---------------------------------------

    async def session_objects(self) -> list[dict[str, Any]]:
        listing = await self.k.list(AGENT_SESSIONS, NAMESPACE)
        return list(listing.get("items") or [])

    async def set_phase(self, name: str, phase: str, **status: Any) -> None:
        await self.k.merge_patch(
            AGENT_SESSIONS, name, NAMESPACE, {"status": {"phase": phase, **status}}, sub="status"
        )

    async def write_event(
        self, session: str, turn_id: str, payload: PayloadModel, **kw: Any
    ) -> str:
        message = envelope(
            payload, provider=PROVIDER, tenant=TENANT, session_id=session, turn_id=turn_id, **kw
        )
        await self.admin.xadd(self.space.events(session), {"envelope": encode_envelope(message)})
        return message.id

    async def turns(self, session: str) -> list[dict[str, Any]]:
        import json

        entries = await self.admin.xrange(self.space.turns(session))
        return [json.loads(fields["envelope"]) for _, fields in entries]

    async def start_session(self, user: User | None = None) -> SessionRecord:
        """Click Start Chat and play the operator up to Ready; returns the session."""
        user = user or self.owner
        start = await self.emu.wait_for_message(
            self.lobby.id, lambda m: any("cephalon:start" in str(c) for c in m.components)
        )
        before = {o["metadata"]["name"] for o in await self.session_objects()}
        await self.emu.click_button(start, "cephalon:start", user)
        await self.emu.wait_for(
            lambda: (
                len(self.gateways[-1].service.ctx.sessions.all()) > 0 if self.gateways else False
            ),
            timeout=10,
        )
        name = ""
        for _ in range(200):
            now = {o["metadata"]["name"] for o in await self.session_objects()}
            if now - before:
                name = sorted(now - before)[0]
                break
            await asyncio.sleep(0.05)
        assert name, "no AgentSession was created"
        await self.set_phase(name, "Ready")
        record = self.gateways[-1].service.ctx.sessions.get(name)  # type: ignore[union-attr]
        assert record is not None
        return record


@pytest.fixture
async def world(
    make_discord_emulator: MakeDiscordEmulator,
    kube_api: KubeApiHandle,  # noqa: F811
    redis_admin: aioredis.Redis,
    redis_server: RedisServer,
    access_user: AccessUser,
    tmp_path: Path,
) -> AsyncIterator[World]:
    base, default_gateway = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    emu = await make_discord_emulator(limits=fast_limits())
    kclient = await KubeClient.from_environment(str(kube_api.kubeconfig_path))
    w = World(emu, kube_api, kclient, redis_admin, redis_server, access_user, tmp_path)
    try:
        yield w
    finally:
        for gateway in list(w.gateways):
            await w.stop_gateway(gateway)
        await kclient.close()
        discord.http.Route.BASE = base
        DiscordWebSocket.DEFAULT_GATEWAY = default_gateway


async def eventually(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> None:
    """Poll ``predicate`` (sync or async) until it is true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)
