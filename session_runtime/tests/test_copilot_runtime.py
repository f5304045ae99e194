"""The runtime end to end with real parts: the Copilot CLI through the SDK (BYOK against
the scripted model), real Redis as the session's ACL user, a real MCP server process.

One runtime (one CLI) serves the whole module; each test owns its turns and filters the
events stream by turn id. Tests run in file order; none depends on another's outcome.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import struct
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from cephalon_contracts.events import ApprovalDecision, RiskLevel
from cephalon_contracts.heartbeat import Heartbeat
from cephalon_contracts.keys import blob_key
from cephalon_contracts.resources import Budgets
from cephalon_contracts.social import AttachmentRef, Cancel, TurnMode
from cephalon_devkit.model import ScriptedModelServer
from cephalon_devkit.redis_server import free_port, running_redis
from cephalon_runtime.bus import SessionKeys
from cephalon_runtime.runtime import SessionRuntime
from cephalon_runtime.settings import (
    ApprovalSettings,
    CopilotSettings,
    HeartbeatSettings,
    McpServerSetting,
    McpSettings,
    ModelSettings,
    PolicySettings,
    RedisSettings,
    RuntimeSettings,
    SessionSettings,
    WorkspaceSettings,
)

from .conftest import CLI, REPO, USER, Harness, mcp_server_process, needs_cli, session_user

pytestmark = [needs_cli, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

MODEL = "gpt-4.1"


@dataclass
class Env:
    harness: Harness
    model: ScriptedModelServer
    runtime: SessionRuntime
    workspace: Path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    base = tmp_path_factory.mktemp("runtime")
    workspace = base / "workspace"
    workspace.mkdir()
    (workspace / "README.md").write_text("# Demo\nRun make setup.\n")
    (workspace / "AGENTS.md").write_text("Workspace guidance: use make.\n")
    tenant = base / "tenant-policy"
    tenant.mkdir()
    (tenant / "RULES.md").write_text("Never push to main.\n")
    (tenant / "skill.deploy.md").write_text(
        "---\nname: deploy\ndescription: Deploy the service. Use when asked to deploy.\n---\n"
        "Run the deploy pipeline.\n"
    )
    keys = SessionKeys("discord", "duck", "s1", "promethean")
    async with running_redis(base / "redis") as server:
        admin = aioredis.Redis(
            host=server.host,
            port=server.port,
            username=server.admin_user,
            password=server.admin_password,
            decode_responses=True,
        )
        username, password = await session_user(admin, server, base / "creds", keys)
        async with (
            ScriptedModelServer([], api_key="sk-cephalon-test-runtime-key") as model,
            mcp_server_process(workspace, base / "mcp.ready") as mcp_url,
        ):
            token = base / "creds" / "model-token"
            token.write_text(str(model.api_key))
            settings = RuntimeSettings(
                session=SessionSettings(id="s1", provider="discord", tenant="duck", owner="42"),
                redis=RedisSettings(url=server.url, username_file=username, password_file=password),
                model=ModelSettings(
                    base_url=model.base_url,
                    token_file=token,
                    default=MODEL,
                    allowed=[MODEL, "gpt-4.1-mini"],
                ),
                mcp=McpSettings(
                    servers=[
                        McpServerSetting(
                            name="ws",
                            url=mcp_url,
                            risk=RiskLevel.SAFE,
                            tools={"publish": RiskLevel.RESTRICTED, "note": RiskLevel.ELEVATED},
                        ),
                        McpServerSetting(name="down", url=f"http://127.0.0.1:{free_port()}/mcp"),
                    ],
                    tool_timeouts={"ws-sleep": 1.0},
                    failure_threshold=2,
                    reset_seconds=600,
                    probe_interval_seconds=3600,
                    probe_timeout_seconds=2,
                    startup_wait_seconds=1,
                ),
                workspace=WorkspaceSettings(path=workspace),
                policy=PolicySettings(
                    tenant_dir=tenant, defaults_dir=REPO, watch_interval_seconds=3600
                ),
                budgets=Budgets(
                    turn_seconds=60,
                    turn_tool_calls=5,
                    turn_tokens=100_000,
                    session_tokens=100_000_000,
                ),
                approvals=ApprovalSettings(timeout_seconds=1.5),
                copilot=CopilotSettings(cli_path=CLI, home=base / "copilot-home"),
                heartbeat=HeartbeatSettings(interval_seconds=1, ttl_seconds=30),
                health_port=0,
                health_host="127.0.0.1",
                log_json=False,
            )
            runtime = SessionRuntime(settings)
            await runtime.start()
            try:
                yield Env(Harness(admin, keys), model, runtime, workspace)
            finally:
                await runtime.stop()
                await admin.aclose()


def texts(events: list) -> str:
    return "".join(e.payload.text for e in events if e.type == "response_delta")


async def test_ready_heartbeat_and_health(env: Env) -> None:
    raw = await env.harness.admin.get(env.harness.keys.heartbeat)
    beat = Heartbeat.model_validate_json(raw)
    assert beat.ready and not beat.busy
    assert beat.policy_hash == env.runtime.policy.snapshot.hash
    assert beat.mcp == {"ws": True, "down": False}
    ttl = await env.harness.admin.ttl(env.harness.keys.heartbeat)
    assert 0 < ttl <= 30
    reader, writer = await asyncio.open_connection("127.0.0.1", env.runtime.health.port)
    writer.write(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
    reply = await reader.read()
    writer.close()
    await writer.wait_closed()
    assert reply.startswith(b"HTTP/1.1 200")


async def test_plain_turn_streams_deltas_in_order(env: Env) -> None:
    reply = "Sure. The build uses uv workspaces; run make setup first."
    env.model.load([{"reply": reply, "chunk_chars": 5, "delay_ms": 2}])
    before = len(env.model.chat_requests)
    turn = await env.harness.turn("How do I build this?")
    events = await env.harness.wait(turn.turn_id)

    deltas = [e for e in events if e.type == "response_delta"]
    assert [d.payload.seq for d in deltas] == list(range(len(deltas)))
    assert len(deltas) == len(range(0, len(reply), 5))
    final = events[-1]
    assert final.type == "final" and final.payload.status == "completed"
    assert final.payload.text == texts(events) == reply
    assert final.payload.usage.input_tokens > 0
    assert all(e.trace_id == turn.trace_id and e.session_id == "s1" for e in events)
    request = env.model.chat_requests[before]
    assert request.auth_ok, "the session's token file is the BYOK api_key"
    assert request.model == MODEL
    prompt = request.system_prompt
    assert "Never push to main." in prompt, "tenant RULES.md reached the model"
    assert prompt.count("Workspace guidance: use make.") == 1, "only through the policy"
    assert prompt.index("Workspace guidance") < prompt.index("Never push to main.")
    assert "<name>deploy</name>" in request.system_prompt, "the tenant's skill reached the CLI"
    pending = await env.harness.admin.xpending(env.harness.keys.turns, "runtime")
    assert pending["pending"] == 0, "acknowledged after the final"


async def test_attachment_reaches_the_model(env: Env) -> None:
    data = b"The magic number is 7461.\n"
    digest = hashlib.sha256(data).hexdigest()
    keys = env.harness.keys
    key = blob_key(
        provider=keys.provider, tenant=keys.tenant, session_id=keys.session_id, sha256=digest
    )
    await env.harness.admin.set(key, data)
    env.model.load([{"reply": "It is 7461."}])
    before = len(env.model.chat_requests)
    ref = AttachmentRef(
        blob_key=key, sha256=digest, filename="magic.txt", content_type="text/plain",
        size_bytes=len(data),
    )  # fmt: skip
    turn = await env.harness.turn("What number is in the file?", attachments=[ref])
    events = await env.harness.wait(turn.turn_id)
    assert events[-1].type == "final"
    request = env.model.chat_requests[before]
    stored = env.workspace / ".cephalon" / "attachments" / str(turn.turn_id) / "magic.txt"
    assert stored.read_bytes() == data
    # the CLI tags attached files by path in the user message; the model views them
    assert f"{stored} (2 lines)" in request.last_user_text


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def test_image_attachment_goes_to_the_model_inline(env: Env) -> None:
    data = tiny_png()
    digest = hashlib.sha256(data).hexdigest()
    keys = env.harness.keys
    key = blob_key(
        provider=keys.provider, tenant=keys.tenant, session_id=keys.session_id, sha256=digest
    )
    await env.harness.admin.set(key, data)
    env.model.load([{"reply": "A red pixel."}])
    before = len(env.model.chat_requests)
    ref = AttachmentRef(
        blob_key=key, sha256=digest, filename="pixel.png", content_type="image/png",
        size_bytes=len(data),
    )  # fmt: skip
    turn = await env.harness.turn("What is in the picture?", attachments=[ref])
    events = await env.harness.wait(turn.turn_id)
    assert events[-1].type == "final" and events[-1].payload.text == "A red pixel."
    content = env.model.chat_requests[before].messages[-1]["content"]
    urls = [part["image_url"]["url"] for part in content if part.get("type") == "image_url"]
    assert urls == ["data:image/png;base64," + base64.b64encode(data).decode()]


async def test_mcp_tool_call_through_the_sidecar(env: Env) -> None:
    env.model.load(
        [
            {"tool_calls": [{"name": "ws-read_file", "arguments": {"path": "README.md"}}]},
            {"match": {"last_role": "tool"}, "reply": "The README says: run make setup."},
        ]
    )
    before = len(env.model.chat_requests)
    turn = await env.harness.turn("What does the README say?")
    events = await env.harness.wait(turn.turn_id)

    (call,) = [e.payload for e in events if e.type == "tool_call"]
    assert (call.tool, call.server, call.risk) == ("ws-read_file", "ws", RiskLevel.SAFE)
    assert json.loads(call.arguments_summary) == {"path": "README.md"}
    (result,) = [e.payload for e in events if e.type == "tool_result_summary"]
    assert result.ok and result.call_id == call.call_id and "Run make setup" in result.summary
    assert events[-1].payload.text == "The README says: run make setup."
    tool_message = env.model.chat_requests[before + 1].messages[-1]
    assert tool_message["role"] == "tool" and "Run make setup" in str(tool_message["content"])


async def test_elevated_tool_runs_and_is_reported(env: Env) -> None:
    env.model.load(
        [
            {"tool_calls": [{"name": "ws-note", "arguments": {"text": "remember this"}}]},
            {"match": {"last_role": "tool"}, "reply": "Noted."},
        ]
    )
    turn = await env.harness.turn("note it")
    events = await env.harness.wait(turn.turn_id)
    (call,) = [e.payload for e in events if e.type == "tool_call"]
    assert call.risk == RiskLevel.ELEVATED
    assert "approval_request" not in [e.type for e in events]
    assert "remember this" in (env.workspace / "NOTES.md").read_text()


async def test_metrics_endpoint_counts_turns(env: Env) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", env.runtime.health.port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    body = (await reader.read()).decode()
    writer.close()
    await writer.wait_closed()
    assert 'cephalon_runtime_turns_total{outcome="completed"}' in body
    assert 'cephalon_runtime_tool_calls_total{decision="allow",risk="elevated"}' in body


async def test_the_agents_todos_become_a_plan(env: Env) -> None:
    insert = (
        "INSERT INTO todos (id, title, description, status) VALUES"
        " ('t1', 'Read the code', 'read', 'done'), ('t2', 'Fix the bug', 'fix', 'pending')"
    )
    env.model.load(
        [
            {
                "tool_calls": [
                    {"name": "sql", "arguments": {"description": "plan", "query": insert}}
                ]
            },
            {"match": {"last_role": "tool"}, "reply": "Planned."},
        ]
    )
    turn = await env.harness.turn("make a plan")
    events = await env.harness.wait(turn.turn_id)
    (plan,) = [e.payload for e in events if e.type == "plan"]
    assert [(s.title, s.status.value) for s in plan.steps] == [
        ("Read the code", "done"),
        ("Fix the bug", "pending"),
    ]


async def test_per_tool_timeout_stops_the_call_and_the_turn_goes_on(env: Env) -> None:
    env.model.load(
        [
            {"tool_calls": [{"name": "ws-sleep", "arguments": {"seconds": 5}}]},
            {"match": {"user_contains": "was stopped"}, "reply": "The tool was too slow."},
        ]
    )
    started = time.monotonic()
    turn = await env.harness.turn("sleep a while")
    events = await env.harness.wait(turn.turn_id)
    assert time.monotonic() - started < 4, "stopped after its 1 s timeout, not 5 s"
    (result,) = [e.payload for e in events if e.type == "tool_result_summary"]
    assert not result.ok and result.summary.startswith("TIMEOUT_TOOL: MCP server 'ws'")
    assert "(tool 'sleep')" in result.summary
    assert events[-1].type == "final" and events[-1].payload.status == "completed"
    assert events[-1].payload.text.endswith("The tool was too slow.")
    assert env.runtime.mcp.servers["ws"].breaker.state == "closed", "one timeout, no outage"


def publish_script(answer: str) -> list[dict[str, object]]:
    return [
        {"tool_calls": [{"name": "ws-publish", "arguments": {"branch": "feature/x"}}]},
        {"match": {"last_role": "tool"}, "reply": answer},
    ]


async def test_restricted_tool_approved(env: Env) -> None:
    env.model.load(publish_script("Published."))
    turn = await env.harness.turn("publish it")
    asked = (await env.harness.wait(turn.turn_id, "approval_request"))[-1].payload
    assert asked.tool == "ws-publish" and asked.risk == RiskLevel.RESTRICTED
    assert "feature/x" in asked.arguments_summary
    await env.harness.control(
        ApprovalDecision(request_id=asked.request_id, approved=True, decided_by=USER),
        turn_id=turn.turn_id,
    )
    events = await env.harness.wait(turn.turn_id)
    assert events[-1].type == "final" and events[-1].payload.text == "Published."
    (result,) = [e.payload for e in events if e.type == "tool_result_summary"]
    assert result.ok
    assert "feature/x" in (env.workspace / ".published").read_text(), "the tool really ran"
    assert [e.type for e in events].count("approval_decision") == 1, "the decision is audited"


async def test_restricted_tool_denied(env: Env) -> None:
    (env.workspace / ".published").unlink(missing_ok=True)
    env.model.load(publish_script("Understood, not publishing."))
    turn = await env.harness.turn("publish it")
    asked = (await env.harness.wait(turn.turn_id, "approval_request"))[-1].payload
    # a decision for another request id must not unblock this one
    await env.harness.control(
        ApprovalDecision(request_id="apr-someone-else", approved=True, decided_by=USER)
    )
    await env.harness.control(
        ApprovalDecision(
            request_id=asked.request_id, approved=False, decided_by=USER, reason="not today"
        )
    )
    events = await env.harness.wait(turn.turn_id)
    (result,) = [e.payload for e in events if e.type == "tool_result_summary"]
    assert not result.ok and "POLICY_APPROVAL_DENIED" in result.summary
    assert "not today" in result.summary
    assert events[-1].type == "final" and events[-1].payload.status == "completed"
    assert not (env.workspace / ".published").exists(), "a denied tool never runs"


async def test_restricted_tool_times_out_as_denied(env: Env) -> None:
    env.model.load(publish_script("No approval arrived."))
    turn = await env.harness.turn("publish it")
    started = time.monotonic()
    events = await env.harness.wait(turn.turn_id)
    (result,) = [e.payload for e in events if e.type == "tool_result_summary"]
    assert not result.ok and "TIMEOUT_APPROVAL" in result.summary
    assert time.monotonic() - started >= 1.4
    assert not (env.workspace / ".published").exists()


async def test_cancel_mid_stream(env: Env) -> None:
    env.model.load([{"reply": "x" * 400, "chunk_chars": 2, "delay_ms": 15}])
    before = len(env.model.chat_requests)
    turn = await env.harness.turn("write a lot")
    await env.harness.wait(turn.turn_id, "response_delta")
    await asyncio.sleep(0.1)
    sent = time.monotonic()
    await env.harness.control(Cancel(requested_by=USER, reason="enough"), turn_id=turn.turn_id)
    events = await env.harness.wait(turn.turn_id)
    final = events[-1].payload
    assert events[-1].type == "final" and final.status == "cancelled"
    assert 0 < len(final.text) < 400 and final.text == texts(events)
    record = env.model.chat_requests[before]
    await env.model.wait_for(lambda _: record.finished_at is not None, timeout=5)
    assert record.outcome == "client_disconnected", "the model stream was closed"
    assert record.finished_at is not None and record.finished_at - sent < 0.2


async def test_immediate_steering_within_200ms(env: Env) -> None:
    env.model.load(
        [
            {"reply": "y" * 400, "chunk_chars": 2, "delay_ms": 15},
            {"match": {"user_contains": "shorter"}, "reply": "Short answer."},
        ]
    )
    before = len(env.model.chat_requests)
    turn = await env.harness.turn("write a lot")
    await env.harness.wait(turn.turn_id, "response_delta")
    sent = time.monotonic()
    await env.harness.turn("make it shorter", mode=TurnMode.IMMEDIATE, stream="control")
    events = await env.harness.wait(turn.turn_id)
    first = env.model.chat_requests[before]
    assert first.outcome == "client_disconnected"
    assert first.finished_at is not None and first.finished_at - sent < 0.2
    steered = env.model.chat_requests[before + 1]
    assert "make it shorter" in steered.last_user_text
    assert steered.received_at - sent < 1.0
    assert events[-1].type == "final" and events[-1].payload.status == "completed"
    assert events[-1].payload.text.endswith("Short answer.")


async def test_model_switch_and_allowlist(env: Env) -> None:
    refused = await env.harness.turn("/model gpt-9-unlisted")
    (error,) = await env.harness.wait(refused.turn_id)
    assert error.type == "error"
    assert error.payload.error.error_code == "PROVIDER_MODEL_NOT_ALLOWED"
    assert "gpt-9-unlisted" in error.payload.error.message

    switched = await env.harness.turn("/model gpt-4.1-mini")
    (final,) = await env.harness.wait(switched.turn_id)
    assert final.type == "final" and "gpt-4.1-mini" in final.payload.text
    env.model.load([{"reply": "from mini"}])
    before = len(env.model.chat_requests)
    turn = await env.harness.turn("hello")
    await env.harness.wait(turn.turn_id)
    assert env.model.chat_requests[before].model == "gpt-4.1-mini"
    back = await env.harness.turn("again", model=MODEL)
    env.model.load([{"reply": "from default"}])
    await env.harness.wait(back.turn_id)
    assert env.model.chat_requests[-1].model == MODEL


async def test_tool_call_budget_stops_the_turn(env: Env) -> None:
    calls = [{"name": "ws-list_files", "arguments": {}, "id": f"c{i}"} for i in range(7)]
    env.model.load([{"tool_calls": calls}, {"match": {"last_role": "tool"}, "reply": "done"}])
    turn = await env.harness.turn("list files many times")
    events = await env.harness.wait(turn.turn_id)
    assert events[-1].type == "error"
    assert events[-1].payload.error.error_code == "PROVIDER_BUDGET_EXCEEDED"
    assert events[-1].payload.error.details["budget"] == "turn_tool_calls"


async def test_mcp_server_down_opens_the_circuit(env: Env) -> None:
    listing = await env.harness.turn("/mcp")
    (final,) = await env.harness.wait(listing.turn_id)
    text = final.payload.text
    assert "- ws " in text and "ws-read_file [safe]" in text and "ws-publish [restricted]" in text
    assert "- down " in text and "unhealthy (open)" in text, text
    assert env.runtime.mcp.servers["down"].breaker.state == "open"
    beat = Heartbeat.model_validate_json(await env.harness.admin.get(env.harness.keys.heartbeat))
    assert beat.mcp["down"] is False

    env.model.load(
        [
            {"tool_calls": [{"name": "down-search", "arguments": {"q": "x"}}]},
            {"match": {"last_role": "tool"}, "reply": "That server is down."},
        ]
    )
    before = len(env.model.chat_requests)
    turn = await env.harness.turn("search it")
    events = await env.harness.wait(turn.turn_id)
    debug = [
        (r.outcome, [m["role"] for m in r.messages][-4:], r.last_user_text[-80:], r.tool_names[-3:])
        for r in env.model.chat_requests[before:]
    ]
    results = [e.payload for e in events if e.type == "tool_result_summary"]
    assert len(results) == 1, (debug, [e.type for e in events])
    (result,) = results
    assert not result.ok
    assert "MCP_CIRCUIT_OPEN" in result.summary and "'down'" in result.summary
    assert "'search'" in result.summary


async def test_malformed_policy_keeps_the_last_good_snapshot(env: Env) -> None:
    good = env.runtime.policy.snapshot.hash
    skill = env.workspace / "skills" / "Broken"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: Broken\ndescription: x\n---\nbody\n")
    (env.workspace / ".mcp.json").write_text('{"mcpServers": {"a": {"command": "x",\n "arg": []}}}')
    try:
        turn = await env.harness.turn("/policy reload")
        (error,) = await env.harness.wait(turn.turn_id)
        assert error.type == "error"
        envelope = error.payload.error
        assert envelope.error_code == "POLICY_INVALID_FILE"
        assert "skills/Broken/SKILL.md:2" in envelope.message
        assert ".mcp.json:2" in envelope.message
        assert envelope.details["count"] == 2
        assert env.runtime.policy.snapshot.hash == good
        beat = await env.harness.admin.get(env.harness.keys.heartbeat)
        assert Heartbeat.model_validate_json(beat).policy_hash == good

        env.model.load([{"reply": "still working"}])
        after = await env.harness.turn("are you there?")
        events = await env.harness.wait(after.turn_id)
        assert events[-1].type == "final" and events[-1].payload.text == "still working"
    finally:
        (skill / "SKILL.md").unlink()
        skill.rmdir()
        (env.workspace / ".mcp.json").unlink()


async def test_token_budget_stops_the_turn(env: Env) -> None:
    # last in the module: a reported 150k-token prompt makes the CLI compact the
    # conversation (an extra summarising model call) on the session's next turn
    env.model.load(
        [{"reply": "expensive", "usage": {"prompt_tokens": 150_000, "completion_tokens": 5}}]
    )
    turn = await env.harness.turn("do something big")
    events = await env.harness.wait(turn.turn_id)
    assert events[-1].type == "error"
    error = events[-1].payload.error
    assert (
        error.error_code == "PROVIDER_BUDGET_EXCEEDED" and error.details["budget"] == "turn_tokens"
    )
