from __future__ import annotations

from cephalon_gateway.discord_access.embeds import (
    DESCRIPTION_LIMIT,
    FIELD_COUNT_LIMIT,
    FIELD_VALUE_LIMIT,
    TITLE_LIMIT,
    TOTAL_LIMIT,
    Embed,
    EmbedField,
    ToolLine,
    activity_embed,
    approval_embed,
    embed_size,
    fit_embed,
    truncate,
)


def test_truncate_marks_the_cut() -> None:
    assert truncate("abc", 5) == "abc"
    assert truncate("abcdef", 4) == "abc…"


def test_fit_embed_respects_every_limit() -> None:
    embed: Embed = {
        "title": "t" * 1000,
        "description": "d" * 10_000,
        "fields": [EmbedField(name="n" * 500, value="v" * 5000, inline=False)] * 40,
        "footer": {"text": "f" * 5000},
    }
    fitted = fit_embed(embed)
    assert len(fitted["title"]) == TITLE_LIMIT
    assert len(fitted["description"]) <= DESCRIPTION_LIMIT
    assert len(fitted["fields"]) <= FIELD_COUNT_LIMIT
    assert all(len(f["value"]) <= FIELD_VALUE_LIMIT for f in fitted["fields"])
    assert embed_size(fitted) <= TOTAL_LIMIT


def test_fit_embed_drops_oldest_fields_first() -> None:
    fields = [EmbedField(name=f"f{i}", value="v" * 1000, inline=False) for i in range(10)]
    fitted = fit_embed({"title": "x", "fields": fields})
    assert fitted["fields"][-1]["name"] == "f9"
    assert embed_size(fitted) <= TOTAL_LIMIT


def test_activity_embed_shows_plan_and_latest_tools() -> None:
    tools = [
        ToolLine(call_id=str(i), tool=f"tool{i}", arguments="a" * 2000, risk="safe")
        for i in range(30)
    ]
    tools[-1] = ToolLine(
        call_id="29",
        tool="git_push",
        arguments="",
        risk="restricted",
        ok=True,
        summary="pushed",
        duration_ms=12,
    )
    embed = activity_embed([("Read code", "done"), ("Fix bug", "in_progress")], tools)
    assert "✅ Read code" in embed["description"]
    assert len(embed["fields"]) == 10
    assert embed["fields"][-1]["name"] == "✅ git_push [restricted]"
    assert "pushed" in embed["fields"][-1]["value"]
    assert embed_size(embed) <= TOTAL_LIMIT


def test_approval_embed_fits() -> None:
    embed = approval_embed(
        tool="rm",
        risk="restricted",
        arguments="x" * 3000,
        reason="r" * 600,
        expires="soon",
        outcome="Approved by ada",
    )
    assert embed["footer"]["text"] == "Approved by ada"
    assert embed_size(embed) <= TOTAL_LIMIT


def test_an_open_request_shows_its_expiry_and_a_decided_one_its_outcome() -> None:
    common = {"tool": "rm", "risk": "restricted", "arguments": "x", "reason": "r"}
    open_request = approval_embed(**common, expires="<t:1:R>")
    assert [f["name"] for f in open_request["fields"]] == ["Risk", "Expires", "Arguments"]
    assert "footer" not in open_request
    decided = approval_embed(**common, expires="-", outcome="Denied by bob")
    assert [f["name"] for f in decided["fields"]] == ["Risk", "Arguments"]
    assert decided["footer"]["text"] == "Denied by bob"
