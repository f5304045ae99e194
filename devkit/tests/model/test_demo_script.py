"""``demo_script()`` over HTTP, as the Copilot CLI would drive it: stateless rules that
read, write, publish and summarise, whichever session asks and in whatever order."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from cephalon_devkit.model import ScriptedModelServer
from cephalon_devkit.model.defaults import DEMO_BRANCH, DEMO_SUMMARY, GREET_SHOUT, demo_script
from cephalon_devkit.testing.model import MakeModelServer

SAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sample-repo"
SYSTEM = {"role": "system", "content": "You are a coding agent."}


class Answer:
    """One streamed answer, reassembled from its deltas."""

    def __init__(self) -> None:
        self.content = ""
        self.content_chunks: list[str] = []
        self.calls: dict[int, dict[str, str]] = {}
        self.finish_reason: str | None = None

    def tool_calls(self) -> list[tuple[str, dict[str, Any]]]:
        return [(c["name"], json.loads(c["arguments"])) for _, c in sorted(self.calls.items())]

    def as_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.calls:
            message["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": c["arguments"]},
                }
                for _, c in sorted(self.calls.items())
            ]
        return message


async def ask(server: ScriptedModelServer, model: str, messages: list[dict[str, Any]]) -> Answer:
    answer = Answer()
    body = {"model": model, "messages": messages, "stream": True}
    headers = {"Authorization": f"Bearer {server.api_key}"}
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        async with client.stream("POST", "/chat/completions", json=body, headers=headers) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                data = line.removeprefix("data: ")
                if not line.startswith("data: ") or data == "[DONE]":
                    continue
                choice = json.loads(data)["choices"][0]
                delta = choice["delta"]
                if delta.get("content"):
                    answer.content += delta["content"]
                    answer.content_chunks.append(delta["content"])
                for piece in delta.get("tool_calls") or []:
                    call = answer.calls.setdefault(
                        piece["index"], {"id": "", "name": "", "arguments": ""}
                    )
                    if "id" in piece:
                        call["id"], call["name"] = piece["id"], piece["function"]["name"]
                    call["arguments"] += piece["function"].get("arguments", "")
                answer.finish_reason = choice.get("finish_reason") or answer.finish_reason
    return answer


def user(text: str) -> dict[str, Any]:
    """A user message as the CLI sends it (a datetime block before the text)."""
    return {"role": "user", "content": f"<current_datetime>now</current_datetime>\n\n{text}"}


async def edit_session(server: ScriptedModelServer, model: str) -> list[Answer]:
    """One whole session: the request, then a result for every call, until the model
    stops calling tools."""
    messages = [SYSTEM, user("Add a --shout option to greet.py")]
    answers: list[Answer] = []
    while len(answers) < 6:
        answer = await ask(server, model, messages)
        answers.append(answer)
        messages.append(answer.as_message())
        if not answer.calls:
            return answers
        for call in answer.as_message()["tool_calls"]:
            result = f"result of {call['function']['name']}"
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
    raise AssertionError("the demo never stopped calling tools")


async def test_demo_reads_writes_publishes_and_summarises(
    make_model_server: MakeModelServer,
) -> None:
    server = await make_model_server(demo_script())
    read, write, publish, summary = await edit_session(server, "gpt-4.1")
    assert read.content == "I'll read greet.py first."
    assert read.tool_calls() == [("workspace-read_file", {"path": "greet.py"})]
    assert read.finish_reason == "tool_calls"
    assert write.content == "Adding a --shout option."
    assert write.tool_calls() == [
        ("workspace-write_file", {"path": "greet.py", "content": GREET_SHOUT})
    ]
    assert publish.content == "Publishing the change on a branch for review."
    assert publish.tool_calls() == [("workspace-publish", {"branch": DEMO_BRANCH})]
    assert summary.calls == {} and summary.finish_reason == "stop"
    assert summary.content == DEMO_SUMMARY
    assert 600 <= len(DEMO_SUMMARY) <= 900
    assert len(summary.content_chunks) > 10, "the summary streams in several chunks"
    assert max(len(chunk) for chunk in summary.content_chunks) <= 12
    assert "```diff" in DEMO_SUMMARY and "python greet.py Ada --shout" in DEMO_SUMMARY
    labels = [r.step_label for r in server.chat_requests]
    assert labels == ["read", "write", "publish", "summary"]


async def test_concurrent_sessions_each_get_the_whole_exchange(
    make_model_server: MakeModelServer,
) -> None:
    """Several sessions share the model and interleave: nothing depends on step order."""
    server = await make_model_server(demo_script())
    sessions = await asyncio.gather(*(edit_session(server, "cephalon-stub") for _ in range(3)))
    for answers in sessions:
        assert [a.tool_calls()[0][0] if a.calls else a.content for a in answers] == [
            "workspace-read_file",
            "workspace-write_file",
            "workspace-publish",
            DEMO_SUMMARY,
        ]


async def test_greetings_and_other_tool_results(make_model_server: MakeModelServer) -> None:
    server = await make_model_server(demo_script())
    hello = await ask(server, "cephalon-stub", [SYSTEM, user("Hey there")])
    assert hello.calls == {} and hello.content.startswith("Hi! I'm the Cephalon stub model")
    assert len(hello.content_chunks) > 1
    glob = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "g1", "type": "function", "function": {"name": "glob", "arguments": "{}"}}
        ],
    }
    other = await ask(
        server,
        "cephalon-stub",
        [SYSTEM, user("Hello"), glob, {"role": "tool", "tool_call_id": "g1", "content": "a"}],
    )
    assert other.calls == {} and other.content
    assert other.content != DEMO_SUMMARY and not other.content.startswith("Hi!")
    assert [r.step_label for r in server.chat_requests] == ["greeting", "other-tool"]


def test_the_written_greet_py_shouts_and_the_diff_matches_it(tmp_path: Path) -> None:
    script = tmp_path / "greet.py"
    script.write_text(GREET_SHOUT)

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(script), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout

    assert run("Ada", "--shout") == "HELLO, ADA!\n"
    assert run("Ada") == "Hello, Ada!\n"
    # The summary's diff is hand-written: keep it true to the sample and the new file.
    before = (SAMPLE / "greet.py").read_text().splitlines()
    after = GREET_SHOUT.splitlines()
    diff = DEMO_SUMMARY.split("```diff\n", 1)[1].split("```", 1)[0].splitlines()
    assert diff
    for line in diff:
        sign, text = line[0], line[1:]
        assert sign in " +-", line
        assert (text in before) is (sign != "+"), line
        assert (text in after) is (sign != "-"), line
