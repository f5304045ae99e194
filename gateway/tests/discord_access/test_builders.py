"""Pure builders, checked against the exact payloads Discord receives."""

from __future__ import annotations

from datetime import UTC, datetime

from cephalon_contracts.resources import AgentSessionSpec, AgentSessionStatus
from cephalon_gateway.discord_access.commands import COMMANDS, commands_hash
from cephalon_gateway.discord_access.lifecycle import status_line, summary_text, welcome_body
from cephalon_gateway.discord_access.sessions import SessionRecord, rfc3339, session_name
from cephalon_gateway.discord_access.start_chat import session_overwrites, start_message


def record(**status: object) -> SessionRecord:
    return SessionRecord(
        name="s-1",
        spec=AgentSessionSpec.model_validate(
            {"provider": "discord", "tenant": "duck", "owner": {"id": "42", "name": "ada"},
             "conversation": {"guild": "1", "channel": "7"}}
        ),
        status=AgentSessionStatus.model_validate(status),
        created_at="2026-11-22T01:00:00Z",
    )  # fmt: skip


def test_session_overwrites_exactly() -> None:
    assert session_overwrites("1", "42", "99", ["5"]) == [
        {"id": "1", "type": 0, "allow": "0", "deny": "1024"},
        {"id": "42", "type": 1, "allow": str(1024 | 2048 | 65536 | 32768 | 2**31), "deny": "0"},
        {"id": "99", "type": 1, "allow": str(1024 | 2048 | 65536 | 16384 | 32768 | 8192 | 16),
         "deny": "0"},
        {"id": "5", "type": 0, "allow": str(1024 | 2048 | 65536 | 32768 | 2**31), "deny": "0"},
    ]  # fmt: skip


def test_start_message_exactly() -> None:
    assert start_message() == {
        "content": "**Cephalon** — a coding agent in a private channel of your own.\n"
        "Press **Start Chat** to open a session.",
        "components": [
            {"type": 1, "components": [
                {"type": 2, "style": 1, "label": "Start Chat", "custom_id": "cephalon:start"}]}
        ],
    }  # fmt: skip


def test_welcome_body_has_status_and_persistent_buttons() -> None:
    body = welcome_body(record(phase="Provisioning"), "!")
    assert body["content"].endswith("**Status:** 🛠️ provisioning your sandbox…")
    assert body["allowed_mentions"] == {"users": ["42"]}
    assert body["components"] == [
        {"type": 1, "components": [
            {"type": 2, "style": 2, "label": "Cancel turn", "custom_id": "cephalon:cancel:s-1"},
            {"type": 2, "style": 4, "label": "End session", "custom_id": "cephalon:end:s-1"},
        ]}
    ]  # fmt: skip


def test_status_line_shows_the_operators_message() -> None:
    line = status_line(
        record(phase="Pending", reason="QuotaExceeded", message="The tenant has 20 sessions.")
    )
    assert line == "⏳ waiting to start — The tenant has 20 sessions."


def test_summary_text() -> None:
    text = summary_text(
        record(phase="Ended", turns=3, startedAt="2026-11-22T01:00:00Z",
               usage={"inputTokens": 100, "outputTokens": 20, "totalTokens": 120}),
        datetime(2026, 11, 22, 2, 1, 5, tzinfo=UTC),
    )  # fmt: skip
    assert text == (
        "🔒 Session `s-1` ended. Turns: 3 · tokens: 120 (100 in / 20 out) · duration: 1h 1m 5s."
    )


def test_names_and_times() -> None:
    assert session_name("1234") == "s-1234"
    assert rfc3339(datetime(2026, 11, 22, 2, 1, 5, 123, tzinfo=UTC)) == "2026-11-22T02:01:05Z"


def test_commands_hash_ignores_order_of_keys_and_server_fields() -> None:
    served = [dict(c, id="1", application_id="2", version="3") for c in COMMANDS]
    assert commands_hash(served) == commands_hash(COMMANDS)
    assert {c["name"] for c in COMMANDS} == {
        "ask", "provider", "model", "agent", "skill", "mcp", "status", "cancel", "end"
    }  # fmt: skip
