"""``match.last_tool``: a rule that holds for the result of one tool's call."""

from __future__ import annotations

from typing import Any, cast

import pytest

from cephalon_devkit.model import Match, ScriptCursor, TextStep, parse_script
from cephalon_devkit.model.wire import ChatCompletionRequest


def call(call_id: str, name: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}


def request(*messages: dict[str, Any]) -> ChatCompletionRequest:
    return cast(ChatCompletionRequest, {"model": "cephalon-stub", "messages": list(messages)})


USER: dict[str, Any] = {"role": "user", "content": "add a --shout option"}
READ_AND_LIST: dict[str, Any] = {
    "role": "assistant",
    "content": "Looking.",
    "tool_calls": [call("c1", "workspace-read_file"), call("c2", "workspace-list_files")],
}


@pytest.mark.parametrize(
    ("messages", "name", "holds"),
    [
        # Parallel calls: each result is matched to its own call by id.
        (
            [USER, READ_AND_LIST, {"role": "tool", "tool_call_id": "c1"}],
            "workspace-read_file",
            True,
        ),
        (
            [USER, READ_AND_LIST, {"role": "tool", "tool_call_id": "c1"}],
            "workspace-list_files",
            False,
        ),
        (
            [
                USER,
                READ_AND_LIST,
                {"role": "tool", "tool_call_id": "c1"},
                {"role": "tool", "tool_call_id": "c2"},
            ],
            "workspace-list_files",
            True,
        ),
        # A call made turns ago is still found.
        (
            [
                USER,
                READ_AND_LIST,
                {"role": "tool", "tool_call_id": "c1"},
                {"role": "assistant", "content": "", "tool_calls": [call("c9", "glob")]},
                {"role": "tool", "tool_call_id": "c2"},
            ],
            "workspace-list_files",
            True,
        ),
        # A result whose id answers no call, or carries none.
        (
            [USER, READ_AND_LIST, {"role": "tool", "tool_call_id": "c7"}],
            "workspace-read_file",
            False,
        ),
        ([USER, READ_AND_LIST, {"role": "tool"}], "workspace-read_file", False),
        # The call comes after the result: not what the result answers.
        (
            [USER, {"role": "tool", "tool_call_id": "c1"}, READ_AND_LIST],
            "workspace-read_file",
            False,
        ),
        (
            [USER, READ_AND_LIST, {"role": "tool", "tool_call_id": "c1"}, USER],
            "workspace-read_file",
            False,
        ),
        ([USER], "workspace-read_file", False),
        ([], "workspace-read_file", False),
    ],
)
def test_last_tool_names_the_call_the_last_result_answers(
    messages: list[dict[str, Any]], name: str, holds: bool
) -> None:
    assert Match(last_tool=name).holds(request(*messages)) is holds


def test_last_tool_combines_with_the_other_fields() -> None:
    messages = [USER, READ_AND_LIST, {"role": "tool", "tool_call_id": "c1"}]
    assert Match(last_tool="workspace-read_file", user_contains="--shout").holds(request(*messages))
    assert not Match(last_tool="workspace-read_file", user_contains="nope").holds(
        request(*messages)
    )


def test_standing_rules_answer_by_tool_whatever_the_order() -> None:
    script = parse_script(
        [
            {"match": {"last_tool": "b"}, "repeat": True, "reply": "after b"},
            {"match": {"last_tool": "a"}, "repeat": True, "reply": "after a"},
            {"match": {"last_role": "tool"}, "repeat": True, "reply": "after something"},
        ]
    )
    cursor = ScriptCursor(script)
    asked: dict[str, Any] = {
        "role": "assistant",
        "content": "",
        "tool_calls": [call("x", "a"), call("y", "b")],
    }
    answers: list[str] = []
    for result in ("x", "y", "x", "z"):
        picked = cursor.next(request(USER, asked, {"role": "tool", "tool_call_id": result}))
        assert picked is not None and isinstance(picked[1], TextStep)
        answers.append(picked[1].reply)
    assert answers == ["after a", "after b", "after a", "after something"]
