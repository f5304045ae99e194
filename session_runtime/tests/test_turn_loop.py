"""The turn loop against a fake engine (the engine is the boundary here): ordering,
idempotency, cancel, steering, budgets, attachments and bad input — real Redis as the
session's ACL user, no Copilot CLI, so these run in a fraction of a second each."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from cephalon_contracts.heartbeat import Heartbeat
from cephalon_contracts.keys import blob_key
from cephalon_contracts.resources import AttachmentsSpec, Budgets
from cephalon_contracts.social import AttachmentRef, Cancel, TurnMode
from cephalon_devkit.redis_server import RedisServer
from cephalon_runtime.attachments import StoredAttachment
from cephalon_runtime.bus import FIELD, SessionKeys
from cephalon_runtime.engine.base import EngineEvent, SessionConfig
from cephalon_runtime.errors import EngineError
from cephalon_runtime.runtime import SessionRuntime
from cephalon_runtime.settings import (
    ApprovalSettings,
    HeartbeatSettings,
    PolicySettings,
    RedisSettings,
    RuntimeSettings,
    SessionSettings,
    WorkspaceSettings,
)

from .conftest import USER, Harness, session_user

Script = Callable[["FakeSession", str], Any]


@dataclass
class FakeSession:
    """Plays the engine: each ``send`` runs ``script(session, prompt)`` as a task."""

    config: SessionConfig
    script: Script
    subscribers: list[Callable[[EngineEvent], None]] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    attachments: list[list[StoredAttachment]] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    message: int = 0

    def subscribe(self, callback: Callable[[EngineEvent], None]) -> Callable[[], None]:
        self.subscribers.append(callback)
        return lambda: self.subscribers.remove(callback)

    def emit(self, kind: str, **data: Any) -> None:
        for callback in list(self.subscribers):
            callback(EngineEvent(kind, SimpleNamespace(**data)))

    async def say(self, text: str, *, chunk: int = 4, delay: float = 0.0) -> None:
        self.message += 1
        mid = f"m{self.message}"
        for start in range(0, len(text), chunk):
            self.emit(
                "assistant.message_delta", delta_content=text[start : start + chunk], message_id=mid
            )
            await asyncio.sleep(delay)
        self.emit("assistant.message", content=text, message_id=mid)
        self.emit("assistant.usage", input_tokens=100, output_tokens=len(text))

    async def _run(self, prompt: str) -> None:
        await self.script(self, prompt)
        self.emit("session.idle", aborted=False)

    async def send(self, prompt: str, attachments: list[StoredAttachment]) -> None:
        if prompt == "crash the engine":
            raise EngineError("the Copilot engine did not take the message: broken pipe")
        self.prompts.append(prompt)
        self.attachments.append(attachments)
        self.task = asyncio.create_task(self._run(prompt))

    async def abort(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            self.emit("abort")
            self.emit("session.idle", aborted=True)

    async def set_model(self, model: str) -> None:
        self.models.append(model)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()


@dataclass
class FakeEngine:
    script: Script
    session: FakeSession | None = None

    async def start(self) -> None:
        pass

    async def open_session(self, config: SessionConfig) -> FakeSession:
        self.session = FakeSession(config, self.script)
        return self.session

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()


async def echo(session: FakeSession, prompt: str) -> None:
    await session.say(f"echo: {prompt}")


@dataclass
class Setup:
    harness: Harness
    engine: FakeEngine
    runtime: SessionRuntime
    workspace: Path

    @property
    def session(self) -> FakeSession:
        assert self.engine.session is not None
        return self.engine.session


MakeRuntime = Callable[..., Any]


@pytest_asyncio.fixture
async def make_runtime(
    redis_server: RedisServer, redis_admin: aioredis.Redis, tmp_path: Path
) -> AsyncIterator[MakeRuntime]:
    runtimes: list[SessionRuntime] = []
    keys = SessionKeys("discord", "duck", "fake1", "promethean")
    username, password = await session_user(redis_admin, redis_server, tmp_path / "creds", keys)

    async def make(script: Script = echo, **overrides: Any) -> Setup:
        workspace = tmp_path / "workspace"
        workspace.mkdir(exist_ok=True)
        values: dict[str, Any] = {
            "session": SessionSettings(id=keys.session_id, provider="discord", tenant="duck"),
            "redis": RedisSettings(
                url=redis_server.url, username_file=username, password_file=password
            ),
            "workspace": WorkspaceSettings(path=workspace),
            "policy": PolicySettings(tenant_dir=None, defaults_dir=None),
            "approvals": ApprovalSettings(timeout_seconds=1),
            "heartbeat": HeartbeatSettings(interval_seconds=0.2),
            "health_port": 0,
            "health_host": "127.0.0.1",
        }
        settings = RuntimeSettings(**{**values, **overrides})
        engine = FakeEngine(script)
        runtime = SessionRuntime(settings, engine=engine)
        await runtime.start()
        runtimes.append(runtime)
        return Setup(Harness(redis_admin, keys), engine, runtime, workspace)

    try:
        yield make
    finally:
        for runtime in runtimes:
            await runtime.stop()


async def test_turns_run_in_order_each_finished_before_the_next(make_runtime: MakeRuntime) -> None:
    async def slow(session: FakeSession, prompt: str) -> None:
        await session.say(f"answer to {prompt}", delay=0.005)

    setup = await make_runtime(slow)
    turns = [await setup.harness.turn(f"q{i}") for i in range(4)]
    await setup.harness.wait(turns[-1].turn_id)
    events = await setup.harness.all_events()
    order = [(e.turn_id, e.type) for e in events]
    finals = [e for e in events if e.type == "final"]
    assert [f.turn_id for f in finals] == [t.turn_id for t in turns]
    assert [f.payload.text for f in finals] == [f"answer to q{i}" for i in range(4)]
    for previous, following in zip(turns, turns[1:], strict=False):
        assert order.index((previous.turn_id, "final")) < min(
            i for i, (turn_id, _) in enumerate(order) if turn_id == following.turn_id
        )
    assert setup.session.prompts == ["q0", "q1", "q2", "q3"]


async def test_a_redelivered_finished_turn_is_a_no_op(make_runtime: MakeRuntime) -> None:
    setup = await make_runtime()
    first = await setup.harness.turn("hello", idempotency_key="discord-msg-1")
    await setup.harness.wait(first.turn_id)
    again = await setup.harness.turn("hello", idempotency_key="discord-msg-1")
    marker = await setup.harness.turn("marker")
    await setup.harness.wait(marker.turn_id)
    assert await setup.harness.events(again.turn_id) == []
    assert setup.session.prompts == ["hello", "marker"]
    pending = await setup.harness.admin.xpending(setup.harness.keys.turns, "runtime")
    assert pending["pending"] == 0


async def test_cancel_ends_the_turn_with_cancelled(make_runtime: MakeRuntime) -> None:
    async def endless(session: FakeSession, prompt: str) -> None:
        await session.say("x" * 10_000, chunk=2, delay=0.01)

    setup = await make_runtime(endless)
    turn = await setup.harness.turn("go")
    await setup.harness.wait(turn.turn_id, "response_delta")
    await setup.harness.control(Cancel(requested_by=USER), turn_id="0" * 32)  # another turn
    await setup.harness.control(Cancel(requested_by=USER, reason="stop"), turn_id=turn.turn_id)
    events = await setup.harness.wait(turn.turn_id, timeout=5)
    final = events[-1].payload
    assert final.status == "cancelled" and 0 < len(final.text) < 10_000


async def test_immediate_steering_aborts_and_resends_in_the_same_turn(
    make_runtime: MakeRuntime,
) -> None:
    async def script(session: FakeSession, prompt: str) -> None:
        if "shorter" in prompt:
            await session.say("short")
        else:
            await session.say("y" * 10_000, chunk=2, delay=0.01)

    setup = await make_runtime(script)
    turn = await setup.harness.turn("long please")
    await setup.harness.wait(turn.turn_id, "response_delta")
    await setup.harness.turn("shorter", mode=TurnMode.IMMEDIATE, stream="control")
    events = await setup.harness.wait(turn.turn_id, timeout=5)
    assert events[-1].type == "final" and events[-1].payload.status == "completed"
    assert events[-1].payload.text.endswith("\n\nshort")
    assert setup.session.prompts == ["long please", "shorter"]
    seqs = [e.payload.seq for e in events if e.type == "response_delta"]
    assert seqs == list(range(len(seqs)))


async def test_steering_with_no_running_turn_queues_a_turn(make_runtime: MakeRuntime) -> None:
    setup = await make_runtime()
    steer = await setup.harness.turn("now", mode=TurnMode.IMMEDIATE, stream="control")
    events = await setup.harness.wait(steer.turn_id)
    assert events[-1].payload.text == "echo: now"


async def test_malformed_turn_is_reported_and_acknowledged(make_runtime: MakeRuntime) -> None:
    setup = await make_runtime()
    await setup.harness.admin.xadd(setup.harness.keys.turns, {FIELD: '{"not": "an envelope"}'})
    marker = await setup.harness.turn("after")
    await setup.harness.wait(marker.turn_id)
    (error,) = [e for e in await setup.harness.events(None) if e.type == "error"]
    assert error.payload.error.error_code == "INTERNAL_CONTRACT_VIOLATION"
    assert (await setup.harness.admin.xpending(setup.harness.keys.turns, "runtime"))["pending"] == 0


async def test_turn_wall_clock_budget(make_runtime: MakeRuntime) -> None:
    async def hang(session: FakeSession, prompt: str) -> None:
        await asyncio.sleep(3600)

    setup = await make_runtime(hang, budgets=Budgets(turn_seconds=1))
    turn = await setup.harness.turn("hang")
    events = await setup.harness.wait(turn.turn_id, timeout=5)
    error = events[-1].payload.error
    assert error.error_code == "TIMEOUT_TURN" and error.details["budget"] == "turn_seconds"


async def test_session_token_budget_refuses_new_turns(make_runtime: MakeRuntime) -> None:
    setup = await make_runtime(budgets=Budgets(session_tokens=108, turn_tokens=0))
    first = await setup.harness.turn("hi")
    assert (await setup.harness.wait(first.turn_id))[-1].type == "final"
    second = await setup.harness.turn("again")
    (error,) = await setup.harness.wait(second.turn_id)
    assert error.payload.error.error_code == "PROVIDER_BUDGET_EXCEEDED"
    assert error.payload.error.details["budget"] == "session_tokens"
    assert setup.session.prompts == ["hi"]


async def test_reasoning_is_never_forwarded(make_runtime: MakeRuntime) -> None:
    async def thinking(session: FakeSession, prompt: str) -> None:
        session.emit("assistant.reasoning_delta", delta_content="secret thoughts", reasoning_id="r")
        session.emit("assistant.reasoning", content="secret thoughts", reasoning_id="r")
        await session.say("visible")

    setup = await make_runtime(thinking)
    turn = await setup.harness.turn("think")
    events = await setup.harness.wait(turn.turn_id)
    assert "secret" not in "".join(e.model_dump_json() for e in events)
    assert events[-1].payload.text == "visible"


async def test_heartbeat_follows_turns(make_runtime: MakeRuntime) -> None:
    setup = await make_runtime()
    turn = await setup.harness.turn("hi")
    await setup.harness.wait(turn.turn_id)
    await asyncio.sleep(0.3)
    beat = Heartbeat.model_validate_json(
        await setup.harness.admin.get(setup.harness.keys.heartbeat)
    )
    assert beat.ready and not beat.busy and beat.turns == 1
    assert beat.last_activity_at is not None
    assert beat.usage.input_tokens == 100
    assert beat.policy_hash is not None


async def put_blob(admin: aioredis.Redis, keys: SessionKeys, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    key = blob_key(
        provider=keys.provider, tenant=keys.tenant, session_id=keys.session_id, sha256=digest
    )
    await admin.set(key, data)
    return key


def ref(
    key: str, data: bytes, name: str, content_type: str, size: int | None = None
) -> AttachmentRef:
    return AttachmentRef(
        blob_key=key,
        sha256=hashlib.sha256(data).hexdigest(),
        filename=name,
        content_type=content_type,
        size_bytes=len(data) if size is None else size,
    )


async def test_attachments_land_in_the_workspace(make_runtime: MakeRuntime) -> None:
    setup = await make_runtime()
    data = b"col1,col2\n1,2\n"
    key = await put_blob(setup.harness.admin, setup.harness.keys, data)
    turn = await setup.harness.turn(
        "read this", attachments=[ref(key, data, "../../etc/notes.txt", "text/plain")]
    )
    events = await setup.harness.wait(turn.turn_id)
    assert events[-1].type == "final"
    (stored,) = setup.session.attachments[-1]
    assert stored.path.read_bytes() == data
    assert stored.path.is_relative_to(setup.workspace / ".cephalon" / "attachments")
    assert stored.path.name == "notes.txt"


@pytest.mark.parametrize(
    ("data", "name", "content_type", "size", "code"),
    [
        (b"hello", "a.exe", "application/x-msdownload", None, "FILES_TYPE_NOT_ALLOWED"),
        (b"x" * 64, "big.txt", "text/plain", None, "FILES_TOO_LARGE"),
        (b"not a png", "fake.png", "image/png", None, "FILES_TYPE_NOT_ALLOWED"),
        (b"small", "lies.txt", "text/plain", 1, "FILES_NOT_FOUND"),
    ],
)
async def test_attachments_are_checked_again(
    make_runtime: MakeRuntime,
    data: bytes,
    name: str,
    content_type: str,
    size: int | None,
    code: str,
) -> None:
    setup = await make_runtime(attachments=AttachmentsSpec(max_bytes=32))
    key = await put_blob(setup.harness.admin, setup.harness.keys, data)
    turn = await setup.harness.turn("look", attachments=[ref(key, data, name, content_type, size)])
    (error,) = await setup.harness.wait(turn.turn_id)
    assert error.payload.error.error_code == code
    assert name in error.payload.error.message
    assert setup.session.prompts == []


async def test_missing_blob(make_runtime: MakeRuntime) -> None:
    setup = await make_runtime()
    data = b"gone"
    key = blob_key(provider="discord", tenant="duck", session_id="fake1", sha256="0" * 64)
    turn = await setup.harness.turn("look", attachments=[ref(key, data, "gone.txt", "text/plain")])
    (error,) = await setup.harness.wait(turn.turn_id)
    assert error.payload.error.error_code == "FILES_NOT_FOUND"


async def test_model_failure_ends_the_turn_with_an_error(make_runtime: MakeRuntime) -> None:
    async def failing(session: FakeSession, prompt: str) -> None:
        await session.say("partial")
        session.emit("session.error", error_type="query", status_code=503, message="overloaded")

    setup = await make_runtime(failing)
    turn = await setup.harness.turn("hi")
    events = await setup.harness.wait(turn.turn_id)
    error = events[-1].payload.error
    assert error.error_code == "PROVIDER_UNAVAILABLE" and error.retryable
    assert "overloaded" in error.message and error.details["status_code"] == 503


async def test_tenant_policy_change_is_picked_up(make_runtime: MakeRuntime, tmp_path: Path) -> None:
    tenant = tmp_path / "tenant-cm"
    tenant.mkdir()
    (tenant / "RULES.md").write_text("Rule one.\n")
    setup = await make_runtime(
        policy=PolicySettings(tenant_dir=tenant, defaults_dir=None, watch_interval_seconds=0.1)
    )
    assert "Rule one." in setup.session.config.system_message
    first = setup.runtime.state.policy_hash
    (tenant / "RULES.md").write_text("Rule two.\n")
    for _ in range(100):
        beat = Heartbeat.model_validate_json(
            await setup.harness.admin.get(setup.harness.keys.heartbeat)
        )
        if beat.policy_hash != first:
            break
        await asyncio.sleep(0.05)
    assert beat.policy_hash == setup.runtime.policy.snapshot.hash != first
    turn = await setup.harness.turn("go on")
    await setup.harness.wait(turn.turn_id)
    prompt = setup.session.prompts[-1]
    assert "Rule two." in prompt and prompt.endswith("go on"), "new policy reaches the model"


async def test_a_dead_engine_fails_the_turn_then_the_runtime(make_runtime: MakeRuntime) -> None:
    setup = await make_runtime()
    turn = await setup.harness.turn("crash the engine")
    (error,) = await setup.harness.wait(turn.turn_id)
    assert error.payload.error.error_code == "PROVIDER_UNAVAILABLE"
    await asyncio.wait_for(setup.runtime.failed.wait(), 5)
    assert not setup.runtime.ready, "the process exits and the pod restarts it"
    assert (await setup.harness.admin.xpending(setup.harness.keys.turns, "runtime"))["pending"] == 0


async def test_a_queued_turn_can_be_cancelled_before_it_starts(make_runtime: MakeRuntime) -> None:
    async def slow(session: FakeSession, prompt: str) -> None:
        await session.say(f"answer to {prompt}", chunk=1, delay=0.01)

    setup = await make_runtime(slow)
    running = await setup.harness.turn("first")
    queued = await setup.harness.turn("second")
    await setup.harness.wait(running.turn_id, "response_delta")
    await setup.harness.control(Cancel(requested_by=USER), turn_id=queued.turn_id)
    assert (await setup.harness.wait(running.turn_id))[-1].payload.status == "completed"
    (final,) = await setup.harness.wait(queued.turn_id)
    assert final.payload.status == "cancelled"
    assert setup.session.prompts == ["first"]


async def test_an_engine_error_without_idle_still_ends_the_turn(make_runtime: MakeRuntime) -> None:
    async def silent_failure(session: FakeSession, prompt: str) -> None:
        session.emit("session.error", error_type="query", status_code=429, message="slow down")
        await asyncio.sleep(3600)  # never idle

    setup = await make_runtime(silent_failure)
    turn = await setup.harness.turn("hi")
    (error,) = await setup.harness.wait(turn.turn_id, timeout=10)
    assert error.payload.error.error_code == "RATE_LIMIT_MODEL"
