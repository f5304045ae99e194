"""Local mode: the whole product on one machine, no cluster.

``LocalStack`` starts, in order: a Redis server, the Kubernetes API emulator (with the
CRDs, the release namespace, and each tenant of ``providers.yml`` as a credentials
Secret plus a ``ProviderTenant``), Discord (the emulator, or the real one when the bot
credentials are in the environment), the model (the scripted one, or the tenant's real
provider when its key is in the environment), the real operator as a process, the local
pod executor for the session namespaces, and the access-layer runner that runs the
operator's gateway Deployments as processes. It returns once every tenant reports
``Ready``; leaving the context stops everything in reverse order.

Addresses: session pods get their own loopback address from ``POD_IP_POOL`` (two pods'
sidecars may use the same port), and the executor rewrites ``127.0.0.1`` in a pod's
environment to that address. So everything a session pod must reach — Redis and the
model gateways — listens on ``HOST`` (``127.0.0.2``) instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from cephalon_contracts.crds import crd_manifest
from cephalon_contracts.resources import CRDS, GROUP, VERSION
from cephalon_devkit.discord import Application, Channel, DiscordEmulator, Guild, User
from cephalon_devkit.kube.server import KubeApiServer
from cephalon_devkit.kubelet import KubeletConfig, load_kubeconfig, open_executor
from cephalon_devkit.local.access_layer import AccessLayerRunner, Key, Listen
from cephalon_devkit.local.kubeapi import KubeApi, Obj, resource_path
from cephalon_devkit.local.progress import Progress
from cephalon_devkit.local.providers import (
    Entry,
    Registry,
    credentials_secret,
    env_name,
    model_key_value,
    provider_tenant,
)
from cephalon_devkit.model import ScriptedModelServer
from cephalon_devkit.model.defaults import demo_script
from cephalon_devkit.polling import until
from cephalon_devkit.redis_server import RedisServer, free_port, running_redis

HOST = "127.0.0.2"
"""Where the services session pods reach listen (not 127.0.0.1, see the module doc)."""
LOOPBACK = "127.0.0.1"
POD_IP_POOL = "127.10.0.0/16"
RELEASE_NAMESPACE = "cephalon-system"
RUNTIME_IMAGE = "cephalon/runtime"
MCP_WORKSPACE_IMAGE = "cephalon/mcp-workspace"
SAMPLE_REPO = Path("examples/sample-repo")
DISCORD_ENDPOINTS = ("CEPHALON_DISCORD__API_BASE", "CEPHALON_DISCORD__GATEWAY_URL")
"""With real bot credentials, these (when set) point the gateways at a Discord-compatible
service instead of Discord itself, as the operator's settings of the same names do."""
READY_TIMEOUT = 180.0


STATE_CHILDREN = ("run", "kubelet", "redis", "pvc")


def prepare_state_dir(state_dir: Path) -> Path:
    """Start from a clean state directory; returns its ``logs`` folder.

    The emulated cluster lives in memory, so nothing of a previous run is worth keeping
    except its logs, which move to ``logs.previous``."""
    logs = state_dir / "logs"
    if logs.exists():
        previous = state_dir / "logs.previous"
        shutil.rmtree(previous, ignore_errors=True)
        logs.rename(previous)
    for child in STATE_CHILDREN:
        shutil.rmtree(state_dir / child, ignore_errors=True)
    logs.mkdir(parents=True, exist_ok=True)
    return logs


class LocalModeError(RuntimeError):
    """Local mode cannot start: the message says what is missing and what to do."""


@dataclass(frozen=True, slots=True)
class StackOptions:
    root: Path
    """The checkout: platform policy (``RULES.md``, ``AGENTS.md``, ``skills/``), the
    sample repository and the pinned Copilot CLI (``tools/copilot``)."""
    registry: Registry
    state_dir: Path
    real_discord: bool = False
    scripted_model: bool = False
    """Always the scripted model, even for tenants whose model key is set (the demo)."""
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass
class DemoWorld:
    """One tenant's corner of the emulated Discord: its bot, guild, lobby, user."""

    app: Application
    guild: Guild
    lobby: Channel
    category: Channel
    user: User


@dataclass
class LocalTenant:
    entry: Entry
    namespace: str
    gateway: Listen
    model_gateway: Listen
    scripted_model: bool
    world: DemoWorld | None = None

    @property
    def name(self) -> str:
        return self.entry.name


def session_namespace(entry: Entry) -> str:
    """The namespace the operator gives the tenant's sessions (its naming rule)."""
    return entry.tenant_spec().sessions.namespace or f"cephalon-{entry.provider}-{entry.tenant}"


def copilot_cli(root: Path) -> Path:
    pinned = root / "tools/copilot/node_modules/.bin/copilot"
    if pinned.exists():
        return pinned
    found = shutil.which("copilot")
    if found is None:
        raise LocalModeError("the Copilot CLI is not installed: run `make setup`")
    return Path(found)


class LocalStack:
    """``async with LocalStack(options) as stack:`` — everything running and Ready."""

    def __init__(self, options: StackOptions, progress: Progress | None = None) -> None:
        self.options = options
        self.progress = progress or Progress(quiet=True)
        self.state = options.state_dir.resolve()
        self.logs = self.state / "logs"
        self.discord: DiscordEmulator | None = None
        self.model: ScriptedModelServer | None = None
        self.redis: RedisServer | None = None
        self.kube_url = ""
        self.kubeconfig = self.state / "kubeconfig"
        self.tenants: list[LocalTenant] = []
        self.operator: asyncio.subprocess.Process | None = None
        self._exit = AsyncExitStack()
        self._http: aiohttp.ClientSession | None = None
        self._api: KubeApi | None = None
        self._runner_task: asyncio.Task[None] | None = None

    @property
    def api(self) -> KubeApi:
        assert self._api is not None, "the stack is not started"
        return self._api

    # ----------------------------------------------------------------- start / stop

    async def __aenter__(self) -> LocalStack:
        try:
            await self._start()
        except BaseException:
            await self._exit.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.progress.update("local mode", "stopping")
        await self._exit.aclose()
        self.progress.update("local mode", "stopped", f"logs in {self.logs}")

    async def _start(self) -> None:
        for child in STATE_CHILDREN:
            shutil.rmtree(self.state / child, ignore_errors=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.progress.update("local mode", "starting", f"logs in {self.logs}")
        self.redis = await self._exit.enter_async_context(
            running_redis(self.state / "redis", host=HOST, log_file=self.logs / "redis.log")
        )
        self.progress.update("redis", "ready", self.redis.url)
        kube = KubeApiServer(host=LOOPBACK)
        await self._exit.enter_async_context(kube)
        self.kube_url = kube.url
        kube.write_kubeconfig(self.kubeconfig, namespace=RELEASE_NAMESPACE)
        self.progress.update("kubernetes api (emulator)", "ready", f"KUBECONFIG={self.kubeconfig}")
        self._http = await self._exit.enter_async_context(aiohttp.ClientSession())
        self._api = KubeApi(self._http, kube.url)
        if not self.options.real_discord:
            self.discord = DiscordEmulator(host=LOOPBACK)
            await self._exit.enter_async_context(self.discord)
            self.progress.update("discord (emulator)", "ready", self.discord.api_base)
        else:
            self.progress.update("discord", "real", "the bots log in with their tokens")
        self.tenants = [self._plan_tenant(entry) for entry in self.options.registry.tenants]
        if any(t.scripted_model for t in self.tenants):
            self.model = ScriptedModelServer(demo_script(), host=LOOPBACK)
            await self._exit.enter_async_context(self.model)
            self.progress.update("model (scripted)", "ready", self.model.base_url)
        await self._apply_cluster()
        await self._start_operator()
        await self._start_executor()
        self._start_access_layer()
        await self._wait_for_tenants()
        if self.discord is not None:
            for tenant in self.tenants:
                assert tenant.world is not None
                url = f"{tenant.gateway.url}/discord/interactions"
                self.discord.set_interactions_url(url, tenant.world.app)
        self.progress.update("local mode", "ready")

    def _plan_tenant(self, entry: Entry) -> LocalTenant:
        scripted = (
            self.options.scripted_model or model_key_value(entry, self.options.environ) is None
        )
        return LocalTenant(
            entry=entry,
            namespace=session_namespace(entry),
            gateway=Listen(LOOPBACK, free_port(LOOPBACK)),
            model_gateway=Listen(HOST, free_port(HOST)),
            scripted_model=scripted,
        )

    # ----------------------------------------------------------------- the cluster

    async def _apply_cluster(self) -> None:
        crds = resource_path("apiextensions.k8s.io/v1", "customresourcedefinitions")
        for info in CRDS:
            crd = crd_manifest(info)
            await self.api.ensure(crds, crd)
            served = f"/apis/{GROUP}/{VERSION}/{info.plural}"
            await self._until(lambda p=served: self.api.get(p), 10, f"{info.plural} to be served")
        await self.api.ensure(
            resource_path("v1", "namespaces"),
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": RELEASE_NAMESPACE}},
        )
        for tenant in self.tenants:
            if self.discord is not None:
                tenant.world = self._demo_world(tenant)
            secret = self._credentials_secret(tenant)
            await self.api.ensure(resource_path("v1", "secrets", RELEASE_NAMESPACE), secret)
            await self.api.ensure(
                resource_path("cephalon.dev/v1alpha1", "providertenants"),
                self._tenant_resource(tenant),
            )
            self.progress.update(
                f"tenant {tenant.name}", "applied", f"sessions in {tenant.namespace}"
            )

    def _demo_world(self, tenant: LocalTenant) -> DemoWorld:
        """A guild per tenant with the tenant's bot, a Start Chat lobby, a category for
        session channels, and one member who will chat."""
        emu = self.discord
        assert emu is not None
        first = not any(t.world for t in self.tenants)
        app = emu.world.app if first else emu.create_application(f"{tenant.entry.tenant} bot")
        owner = emu.create_user(f"{tenant.entry.tenant}-admin")
        guild = emu.create_guild(f"{tenant.entry.tenant} community", owner=owner, app=app)
        return DemoWorld(
            app=app,
            guild=guild,
            lobby=emu.create_channel(guild.id, "start-here"),
            category=emu.create_category(guild.id, "agent-sessions"),
            user=emu.create_member(guild.id, f"{tenant.entry.tenant}-dev"),
        )

    def _credentials_secret(self, tenant: LocalTenant) -> Obj:
        if tenant.world is None:  # real Discord: the values come from the environment
            return credentials_secret(tenant.entry, RELEASE_NAMESPACE, self.options.environ)
        app = tenant.world.app
        creds = tenant.entry.credentials
        values = {
            env_name(creds.botToken): app.token,
            env_name(creds.publicKey): app.public_key,
            env_name(creds.appId): str(app.id),
        }
        environ = {**self.options.environ, **values}
        return credentials_secret(tenant.entry, RELEASE_NAMESPACE, environ)

    def _tenant_resource(self, tenant: LocalTenant) -> Obj:
        """The ProviderTenant exactly as ``cephalon tenants render`` prints it, plus what
        only local mode knows: the emulated guild's ids and the scripted model's URL."""
        resource = provider_tenant(tenant.entry)
        spec: dict[str, Any] = resource["spec"]
        if tenant.world is not None:
            world = tenant.world
            spec["allow"] = {**spec.get("allow", {}), "guilds": [str(world.guild.id)]}
            spec["gateway"] = {
                **spec.get("gateway", {}),
                "startChatChannels": [str(world.lobby.id)],
                "sessionCategory": str(world.category.id),
            }
        if tenant.scripted_model:
            assert self.model is not None
            models = dict(spec["models"])
            models.pop("providerSecretRef", None)
            models["upstream"] = {"kind": "openai", "baseUrl": self.model.base_url}
            spec["models"] = models
        return resource

    # ----------------------------------------------------------------- processes

    def _bin_path(self) -> str:
        return os.pathsep.join(
            [str(Path(sys.executable).parent), str(copilot_cli(self.options.root).parent)]
        )

    def _base_env(self) -> dict[str, str]:
        keep = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "HOME", "USER")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env["PATH"] = self._bin_path() + os.pathsep + os.environ.get("PATH", os.defpath)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    async def _start_operator(self) -> None:
        assert self.redis is not None
        metrics = free_port(LOOPBACK)
        env = self._base_env() | {
            "CEPHALON_REDIS__URL": self.redis.url,
            "CEPHALON_REDIS__USERNAME": self.redis.admin_user,
            "CEPHALON_REDIS__PASSWORD_FILE": str(self.redis.admin_password_file),
            "CEPHALON_RELEASE_NAMESPACE": RELEASE_NAMESPACE,
            "CEPHALON_MODEL_GATEWAY_URLS": json.dumps(
                {t.name: f"{t.model_gateway.url}/v1" for t in self.tenants}
            ),
        }
        if self.discord is not None:
            env["CEPHALON_DISCORD__API_BASE"] = self.discord.api_base
            env["CEPHALON_DISCORD__GATEWAY_URL"] = self.discord.gateway_url
        else:  # Discord's own endpoints, unless the environment names compatible ones
            for name in DISCORD_ENDPOINTS:
                if self.options.environ.get(name):
                    env[name] = self.options.environ[name]
        log = (self.logs / "operator.log").open("ab")
        self.operator = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cephalon_operator.main",
            "--metrics-port",
            str(metrics),
            "--liveness",
            "",
            env=env,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._exit.push_async_callback(self._stop_operator)
        self.progress.update("operator", "started", f"metrics http://{LOOPBACK}:{metrics}/metrics")

    async def _stop_operator(self) -> None:
        process = self.operator
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def _start_executor(self) -> None:
        root = self.options.root.resolve()
        sample = root / SAMPLE_REPO
        config = KubeletConfig(
            state_dir=self.state / "kubelet",
            log_dir=self.logs / "pods",
            namespaces=tuple(t.namespace for t in self.tenants),
            pod_ip_pool=POD_IP_POOL,
            pvc_root=self.state / "pvc",
            path_prepend=tuple(self._bin_path().split(os.pathsep)),
            image_commands={
                MCP_WORKSPACE_IMAGE: ("python", "-m", "cephalon_devkit.mcp_servers.workspace"),
            },
            image_env={
                # What the runtime image's Dockerfile sets, pointed at this checkout.
                RUNTIME_IMAGE: {
                    "CEPHALON_COPILOT__CLI_PATH": str(copilot_cli(root)),
                    "CEPHALON_POLICY__DEFAULTS_DIR": str(root),
                    "PYTHONUNBUFFERED": "1",
                },
                # The demo workspace server's image carries the sample repository.
                MCP_WORKSPACE_IMAGE: {"MCP_SEED": str(sample)} if sample.is_dir() else {},
            },
            shutdown_grace=5.0,
        )
        await self._exit.enter_async_context(
            open_executor(config, load_kubeconfig(self.kubeconfig))
        )
        self.progress.update(
            "pod executor", "ready", f"session pods of {', '.join(config.namespaces)}"
        )

    def _start_access_layer(self) -> None:
        listen: dict[Key, Listen] = {}
        for t in self.tenants:
            listen[(t.entry.provider, t.entry.tenant, "gateway")] = t.gateway
            listen[(t.entry.provider, t.entry.tenant, "model-gateway")] = t.model_gateway
        runner = AccessLayerRunner(
            self.api,
            RELEASE_NAMESPACE,
            listen=listen,
            run_dir=self.state / "run",
            log_dir=self.logs,
            env=self._base_env(),
            on_state=lambda key, state, detail: self.progress.update(
                f"{key[2]} {key[0]}-{key[1]}", state, detail
            ),
        )
        task = asyncio.create_task(runner.run(), name="access-layer")

        async def stop() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        self._exit.push_async_callback(stop)
        self._runner_task = task

    async def _wait_for_tenants(self) -> None:
        async def ready(tenant: LocalTenant) -> None:
            path = resource_path("cephalon.dev/v1alpha1", "providertenants", name=tenant.name)

            async def probe() -> bool:
                if self._runner_task is not None and self._runner_task.done():
                    self._runner_task.result()
                if self.operator is not None and self.operator.returncode is not None:
                    raise LocalModeError(
                        f"the operator exited with {self.operator.returncode}; "
                        f"see {self.logs / 'operator.log'}"
                    )
                obj = await self.api.get(path)
                conditions = (obj or {}).get("status", {}).get("conditions") or []
                return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

            await self._until(probe, READY_TIMEOUT, f"tenant {tenant.name} to be Ready")
            self.progress.update(f"tenant {tenant.name}", "ready")

        await asyncio.gather(*(ready(t) for t in self.tenants))

    @staticmethod
    async def _until(probe: Any, timeout: float, what: str) -> None:
        await until(probe, timeout=timeout, what=what, error=LocalModeError, interval=0.1)
