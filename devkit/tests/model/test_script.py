"""Script files: the format accepts what the docs show and names the field when it can't."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cephalon_devkit.model import (
    ErrorStep,
    RateLimitStep,
    ScriptError,
    TextStep,
    ToolCallStep,
    default_script,
    load_script,
    parse_script,
)

EXAMPLE = """\
models: [gpt-4.1]
when_exhausted: error
steps:
  - reply: "Let me look at the file."
    chunk_chars: 8
    delay_ms: 20
  - tool_calls:
      - {name: view, arguments: {path: README.md}}
    match: {user_contains: README}
  - error: {status: 503, message: overloaded, retry_after: 2}
  - rate_limit: {retry_after: 1}
  - reply: cut short
    break_after_chunks: 1
"""


def test_yaml_example_loads_every_step_kind(tmp_path: Path) -> None:
    path = tmp_path / "script.yaml"
    path.write_text(EXAMPLE)
    script = load_script(path)
    assert [type(s) for s in script.steps] == [
        TextStep,
        ToolCallStep,
        ErrorStep,
        RateLimitStep,
        TextStep,
    ]
    assert script.models == ["gpt-4.1"]
    tool_step = script.steps[1]
    assert isinstance(tool_step, ToolCallStep)
    assert tool_step.tool_calls[0].arguments_json() == '{"path":"README.md"}'


def test_json_and_bare_list_scripts(tmp_path: Path) -> None:
    path = tmp_path / "script.json"
    path.write_text(json.dumps([{"reply": "a"}, {"rate_limit": {}}]))
    script = load_script(path)
    assert len(script.steps) == 2
    assert isinstance(script.steps[1], RateLimitStep)
    assert script.steps[1].rate_limit.retry_after == 1


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"steps": [{"reply": "x", "chunk_char": 3}]}, r"steps\.0\.text\.chunk_char: Extra inputs"),
        (
            {"steps": [{"reply": "x", "error": {"status": 500}}]},
            r"steps\.0: a step needs exactly one",
        ),
        ({"steps": [{"say": "x"}]}, r"steps\.0: a step needs exactly one"),
        (
            {"steps": [{"error": {"status": 200}}]},
            r"steps\.0\.error\.error\.status: Input should be greater",
        ),
        (
            {"steps": [{"reply": "x", "match": {"user_regex": "("}}]},
            r"user_regex: Value error, not a valid regular",
        ),
        ({"steps": [{"tool_calls": []}]}, r"tool_calls\.tool_calls: List should have at least 1"),
        ({"when_exhausted": "repeat_last"}, r"repeat_last needs at least one step"),
        ("just text", r"<root>: Input should be a valid dictionary"),
    ],
)
def test_bad_scripts_name_the_problem(data: object, expected: str) -> None:
    with pytest.raises(ScriptError) as caught:
        parse_script(data, source="bad.yaml")
    message = str(caught.value)
    assert message.startswith("invalid model script bad.yaml:")
    assert re.search(expected, message), message


def test_unreadable_and_unparsable_files(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="cannot read"):
        load_script(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("steps: [reply: 'x'\n")
    with pytest.raises(ScriptError, match="not valid YAML/JSON"):
        load_script(broken)


def test_default_script_is_valid_and_never_runs_dry() -> None:
    script = default_script()
    assert script.when_exhausted == "repeat_last"
    assert all(step.repeat for step in script.steps)


def test_cli_check_reports_a_bad_script(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [{reply: x, delay: 3}]\n")
    result = subprocess.run(
        [sys.executable, "-m", "cephalon_devkit.model", "--check", "--script", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "steps.0.text.delay" in result.stderr


async def test_cli_serves_a_script_until_terminated(tmp_path: Path) -> None:
    path = tmp_path / "script.yaml"
    path.write_text(EXAMPLE)
    key_file = tmp_path / "key"
    key_file.write_text("sk-cli-test\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cephalon_devkit.model",
        "--port",
        "0",
        "--script",
        str(path),
        "--api-key-file",
        str(key_file),
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        line = (await asyncio.wait_for(process.stderr.readline(), 20)).decode()
        match = re.search(r"base_url=(\S+)", line)
        assert match, line
        async with httpx.AsyncClient(base_url=match.group(1)) as client:
            response = await client.post(
                "/chat/completions",
                json={"messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": "Bearer sk-cli-test"},
            )
            rejected = await client.get("/models")
        assert response.json()["choices"][0]["message"]["content"] == "Let me look at the file."
        assert rejected.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
        assert process.stderr is not None
        rest = (await process.stderr.read()).decode()
    assert "sk-cli-test" not in line + rest
