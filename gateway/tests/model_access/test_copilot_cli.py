"""The real Copilot CLI (BYOK, offline), driven by the real SDK, through the gateway.

The CLI gets the gateway's URL and a session token as its provider; only the gateway
knows the upstream key. Proves a whole turn (streamed deltas, a tool round trip) works
through the gateway and how the CLI surfaces the gateway's budget refusal.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from copilot import CopilotClient, PermissionHandler, RuntimeConnection

from cephalon_devkit.model import ScriptedModelServer

REPO = Path(__file__).resolve().parents[3]
CLI = REPO / "tools" / "copilot" / "node_modules" / ".bin" / "copilot"
MODEL = "gpt-4.1"
log = logging.getLogger(__name__)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CLI.exists(), reason="Copilot CLI not installed: run `make setup`"),
]


@asynccontextmanager
async def copilot(base_url: str, token: str, tmp_path: Path) -> AsyncIterator[Any]:
    home = tmp_path / "copilot-home"
    workdir = tmp_path / "work"
    home.mkdir()
    workdir.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "COPILOT_HOME": str(home),
        "COPILOT_OFFLINE": "true",
        "COPILOT_PROVIDER_BASE_URL": base_url,
        "COPILOT_MODEL": MODEL,
    }
    client = CopilotClient(connection=RuntimeConnection.for_stdio(path=str(CLI)), env=env)
    await client.start()
    try:
        session = await client.create_session(
            model=MODEL,
            provider={"type": "openai", "base_url": base_url, "api_key": token},
            streaming=True,
            on_permission_request=PermissionHandler.approve_all,
            working_directory=str(workdir),
        )
        events: list[Any] = []
        session.on(events.append)
        try:
            yield session, events
        finally:
            await session.disconnect()
    finally:
        process = client._cli_process
        await client.stop()
        if process is not None:  # SDK 1.0.25 leaves these pipes open
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()


def of(events: list[Any], type_: str) -> list[Any]:
    return [e.data for e in events if e.type.value == type_]


async def test_copilot_cli_completes_a_turn_through_the_gateway(
    gateway: Any, model_server: ScriptedModelServer, tmp_path: Path
) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "README.md").write_text("Run make setup first.\n")
    model_server.load(
        [
            {
                "text": "Checking the README.",
                "tool_calls": [
                    {"name": "view", "arguments": {"path": str(tmp_path / "work" / "README.md")}}
                ],
                "usage": {"prompt_tokens": 5000, "completion_tokens": 20},
            },
            {
                "match": {"last_role": "tool"},
                "reply": "The README says to run make setup first.",
                "chunk_chars": 6,
                "usage": {"prompt_tokens": 5100, "completion_tokens": 12},
            },
        ]
    )
    token = await gateway.issue("s-cli")
    started = time.perf_counter()
    async with copilot(gateway.base_url, token, tmp_path) as (session, events):
        result = await session.send_and_wait("How do I build this?", timeout=60)
    log.info("turn through the gateway took %.2f s", time.perf_counter() - started)

    assert result is not None
    assert result.data.content == "The README says to run make setup first."
    deltas = "".join(d.delta_content for d in of(events, "assistant.message_delta"))
    assert "The README says to run make setup first." in deltas
    assert of(events, "tool.execution_complete"), "the tool round trip went through"
    first, second = model_server.chat_requests
    assert first.auth_ok and second.auth_ok  # the tenant key went upstream both times
    assert second.body is not None and second.body["messages"][-1]["role"] == "tool"
    assert all(token not in str(r.headers) for r in model_server.chat_requests)
    assert await gateway.usage("s-cli") == {
        "input_tokens": 10100,
        "output_tokens": 32,
        "requests": 2,
    }


async def test_copilot_cli_surfaces_the_budget_refusal_at_once(
    start_gateway: Any, model_server: ScriptedModelServer, tmp_path: Path
) -> None:
    gateway = await start_gateway(
        upstream_base_url=model_server.base_url,
        upstream_key=model_server.api_key,
        budget={"session_tokens": 1000},
    )
    model_server.load(
        [{"reply": "first answer", "usage": {"prompt_tokens": 990, "completion_tokens": 20}}]
    )
    token = await gateway.issue("s-cli")
    async with copilot(gateway.base_url, token, tmp_path) as (session, events):
        assert (await session.send_and_wait("one", timeout=60)).data.content == "first answer"
        started = time.perf_counter()
        with pytest.raises(Exception) as refused:
            await session.send_and_wait("two", timeout=60)
        waited = time.perf_counter() - started
    errors = of(events, "session.error")
    log.info("budget refusal surfaced after %.2f s: %r / %r", waited, refused.value, errors)
    assert errors, "the CLI reports a session.error"
    assert "PROVIDER_BUDGET_EXCEEDED" in str(errors[-1]) or "PROVIDER_BUDGET_EXCEEDED" in str(
        refused.value
    )
    assert len(model_server.chat_requests) == 1
    assert waited < 10, "a budget refusal is shown at once, not retried"
