"""Local mode end to end: the real operator, gateways, runtime, Copilot CLI and MCP
sidecars as local processes, against the Discord emulator and the scripted model.

The demo's own isolation checks are not taken on trust: the test looks at the cluster
and Redis itself while the stack still runs.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import NoPermissionError

from cephalon_contracts.topics import session_topic
from cephalon_devkit.local.demo import play, timing_table
from cephalon_devkit.local.kubeapi import resource_path
from cephalon_devkit.local.providers import load_registry
from cephalon_devkit.local.stack import (
    RELEASE_NAMESPACE,
    LocalStack,
    StackOptions,
    prepare_state_dir,
)
from cephalon_devkit.testing.discord import MakeDiscordEmulator

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


async def _as_gateway(stack: LocalStack, tenant: str) -> aioredis.Redis:
    """Log in to Redis as a tenant's gateway, with the Secret the operator made."""
    secrets = await stack.api.items(resource_path("v1", "secrets", RELEASE_NAMESPACE))
    secret = next(
        s
        for s in secrets
        if s["metadata"]["name"].startswith(f"cephalon-discord-{tenant}-gateway")
        and "username" in s.get("data", {})
    )
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert stack.redis is not None
    return aioredis.Redis(
        host=stack.redis.host,
        port=stack.redis.port,
        username=data["username"],
        password=data["password"],
        decode_responses=True,
    )


async def test_two_tenants_converse_at_once_and_never_see_each_other(tmp_path: Path) -> None:
    registry = load_registry(REPO / "providers.yml")
    assert [t.tenant for t in registry.tenants] == ["duck", "goose"]
    prepare_state_dir(tmp_path / "state")
    options = StackOptions(
        root=REPO, registry=registry, state_dir=tmp_path / "state", scripted_model=True
    )
    async with LocalStack(options) as stack:
        # The access layer really runs: the operator's conditions say so.
        for tenant in stack.tenants:
            obj = await stack.api.get(
                resource_path("cephalon.dev/v1alpha1", "providertenants", name=tenant.name)
            )
            assert obj is not None
            conditions = {c["type"]: c["status"] for c in obj["status"]["conditions"]}
            assert conditions["GatewayReady"] == conditions["ModelGatewayReady"] == "True"

        result = await play(stack)

        by_tenant = {c.tenant: c for c in result.conversations}
        assert set(by_tenant) == {"discord-duck", "discord-goose"}
        for conversation in result.conversations:
            assert conversation.namespace == f"cephalon-{conversation.tenant}"
            assert "wrote greet.py" in conversation.transcript  # the MCP sidecar ran
            assert "Approval needed: workspace-publish" in conversation.transcript
            assert "published to cephalon/greet-shout" in conversation.transcript
            assert "python greet.py Ada --shout" in conversation.transcript
            assert f"Session `{conversation.session}` ended" in conversation.transcript
            timings = conversation.timings
            assert 0 < timings.start_chat_to_ack < 3  # Discord's deadline
            assert timings.start_chat_to_ack <= timings.start_chat_to_channel
            assert timings.start_chat_to_channel < timings.start_chat_to_ready
            assert 0 <= timings.first_delta_to_visible < timings.ask_to_answer
        assert "Start Chat → ACK" in timing_table(result)

        # Isolation, checked here rather than trusted from the demo.
        sessions = await stack.api.items(resource_path("cephalon.dev/v1alpha1", "agentsessions"))
        assert {(s["metadata"]["namespace"], s["spec"]["tenant"]) for s in sessions} == {
            ("cephalon-discord-duck", "duck"),
            ("cephalon-discord-goose", "goose"),
        }
        duck, goose = by_tenant["discord-duck"], by_tenant["discord-goose"]
        assert goose.session not in duck.transcript and duck.session not in goose.transcript
        for reader, owner, session in (
            ("duck", "goose", goose.session),
            ("goose", "duck", duck.session),
        ):
            client = await _as_gateway(stack, reader)
            try:
                own = session_topic(
                    provider="discord",
                    tenant=reader,
                    session_id=by_tenant[f"discord-{reader}"].session,
                    stream="events",
                )
                assert await client.xrange(own, count=1)  # its own tenant's stream: readable
                for stream in ("events", "turns", "control"):
                    key = session_topic(
                        provider="discord", tenant=owner, session_id=session, stream=stream
                    )
                    with pytest.raises(NoPermissionError):
                        await client.xrange(key, count=1)
            finally:
                await client.aclose()
        assert stack.discord is not None
        guilds = {t.world.guild.id for t in stack.tenants if t.world is not None}
        assert len(guilds) == 2
        for conversation, other in ((duck, goose), (goose, duck)):
            other_user = next(
                t.world.user for t in stack.tenants if t.name == other.tenant and t.world
            )
            assert not stack.discord.world.can_view(conversation.channel_id, other_user.id)


def _cephalon(*args: str) -> list[str]:
    return [sys.executable, "-m", "cephalon_devkit.cli", *args]


def test_the_demo_command_prints_the_transcript_and_timings(tmp_path: Path) -> None:
    state = tmp_path / "demo"
    done = subprocess.run(
        _cephalon("demo", "--state-dir", str(state)),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "=== Discord, tenant discord-duck ===" in out
    assert "=== Discord, tenant discord-goose ===" in out
    assert "Your session is ready" in out
    assert "Demo passed." in out
    for column in ("Start Chat → ACK", "→ channel created", "→ session Ready", "first delta"):
        assert column in out
    report = json.loads((state / "demo.json").read_text())
    assert {c["tenant"] for c in report["conversations"]} == {"discord-duck", "discord-goose"}
    # Progress went to stderr, component by component, with addresses.
    for component in ("redis", "operator", "gateway discord-duck", "model-gateway discord-goose"):
        assert component in done.stderr
    # Every log in one folder.
    logs = {p.name for p in (state / "logs").iterdir()}
    assert {"operator.log", "redis.log", "local.log", "pods"} <= logs
    assert any(name.endswith("-gateway.log") for name in logs)


def _processes_mentioning(marker: str) -> list[int]:
    """Processes whose command line or environment mentions ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in blob:
            found.append(int(entry.name))
    return found


def test_dev_up_serves_until_ctrl_c_then_stops_everything(tmp_path: Path) -> None:
    providers = tmp_path / "providers.yml"
    text = (REPO / "providers.yml").read_text()
    providers.write_text(text[: text.index("  - provider: discord\n    tenant: goose")])
    state = tmp_path / "up"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUCK_")}
    process = subprocess.Popen(
        _cephalon("dev", "up", "--providers", str(providers), "--state-dir", str(state)),
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines: list[str] = []
    output = rest = ""
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Ctrl-C stops everything"):
                break
        output = "".join(lines)
        assert "Cephalon is up" in output, output
        assert "interactions endpoint  http://127.0.0.1:" in output
        assert _processes_mentioning(str(state))  # gateways, operator, ... are running
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output + rest
    assert "local mode                 stopped" in rest
    assert _processes_mentioning(str(state)) == []


async def test_dev_up_with_bot_credentials_serves_that_discord_and_logs_no_secret(
    tmp_path: Path, make_discord_emulator: MakeDiscordEmulator
) -> None:
    """The real-Discord path: the bot credentials come only from the environment. Discord
    itself is unreachable here, so a Discord-compatible endpoint (the emulator, as a
    stranger to local mode) stands in for it through CEPHALON_DISCORD__*."""
    discord = await make_discord_emulator()
    guild = discord.create_guild("my guild")
    lobby = discord.create_channel(guild.id, "start-here")
    text = (REPO / "providers.yml").read_text()
    duck = text[: text.index("  - provider: discord\n    tenant: goose")]
    duck = duck.replace("guilds: []", f'guilds: ["{guild.id}"]').replace(
        "startChatChannels: []", f'startChatChannels: ["{lobby.id}"]'
    )
    providers = tmp_path / "providers.yml"
    providers.write_text(duck)
    state = tmp_path / "up"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUCK_")} | {
        "DUCK_DISCORD_BOT_TOKEN": discord.bot_token,
        "DUCK_DISCORD_PUBLIC_KEY": discord.public_key,
        "DUCK_DISCORD_APP_ID": str(discord.application_id),
        "CEPHALON_DISCORD__API_BASE": discord.api_base,
        "CEPHALON_DISCORD__GATEWAY_URL": discord.gateway_url,
    }
    process = await asyncio.create_subprocess_exec(
        *_cephalon("dev", "up", "--providers", str(providers), "--state-dir", str(state)),
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        output = b""
        while b"Ctrl-C stops everything" not in output:
            line = await asyncio.wait_for(process.stderr.readline(), 180)
            assert line, output.decode()
            output += line
        assert b"discord                    real" in output
        # The bot logged in with the token from the environment and set up its lobby.
        start = await discord.wait_for_message(
            lobby.id, lambda m: "Start Chat" in json.dumps(m.components), timeout=30
        )
        assert start.author_id == discord.bot.id
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 60) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    logged = b"".join(p.read_bytes() for p in (state / "logs").rglob("*") if p.is_file())
    assert logged and discord.bot_token.encode() not in logged
