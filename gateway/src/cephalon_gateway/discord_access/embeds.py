"""Compact embeds for plans, tool calls and approvals, always within Discord's limits
(title 256, description 4,096, 25 fields of name 256 / value 1,024, footer 2,048,
6,000 characters in total)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NotRequired, TypedDict

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_COUNT_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
TOTAL_LIMIT = 6000

COLOR_INFO = 0x5865F2
COLOR_OK = 0x57F287
COLOR_WARN = 0xFEE75C
COLOR_ERROR = 0xED4245


class EmbedField(TypedDict):
    name: str
    value: str
    inline: bool


class EmbedFooter(TypedDict):
    text: str


class Embed(TypedDict):
    title: NotRequired[str]
    description: NotRequired[str]
    color: NotRequired[int]
    fields: NotRequired[list[EmbedField]]
    footer: NotRequired[EmbedFooter]


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def embed_size(embed: Embed) -> int:
    """Characters Discord counts towards the 6,000 total."""
    size = len(embed.get("title", "")) + len(embed.get("description", ""))
    size += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    footer = embed.get("footer")
    return size + (len(footer["text"]) if footer else 0)


def fit_embed(embed: Embed) -> Embed:
    """A copy of ``embed`` cut to every per-part limit and to the total, dropping the
    oldest fields first when the total is exceeded."""
    out: Embed = {}
    if "title" in embed:
        out["title"] = truncate(embed["title"] or "-", TITLE_LIMIT)
    if "description" in embed:
        out["description"] = truncate(embed["description"] or "-", DESCRIPTION_LIMIT)
    if "color" in embed:
        out["color"] = embed["color"]
    if "footer" in embed:
        out["footer"] = {"text": truncate(embed["footer"]["text"] or "-", FOOTER_LIMIT)}
    fields = [
        EmbedField(
            name=truncate(f["name"] or "-", FIELD_NAME_LIMIT),
            value=truncate(f["value"] or "-", FIELD_VALUE_LIMIT),
            inline=f["inline"],
        )
        for f in embed.get("fields", [])
    ][-FIELD_COUNT_LIMIT:]
    if fields or "fields" in embed:
        out["fields"] = fields
    while embed_size(out) > TOTAL_LIMIT and out.get("fields"):
        out["fields"] = out["fields"][1:]
    if embed_size(out) > TOTAL_LIMIT and "description" in out:
        over = embed_size(out) - TOTAL_LIMIT
        out["description"] = truncate(out["description"], len(out["description"]) - over)
    return out


_STEP_MARK = {"pending": "▫️", "in_progress": "▶️", "done": "✅"}


@dataclass(frozen=True, slots=True)
class ToolLine:
    call_id: str
    tool: str
    arguments: str
    risk: str
    ok: bool | None = None
    summary: str = ""
    duration_ms: int | None = None


def activity_embed(
    plan: Sequence[tuple[str, str]], tools: Sequence[ToolLine], *, max_tools: int = 10
) -> Embed:
    """One compact embed for a turn's plan (``(title, status)`` pairs) and its latest
    tool calls."""
    embed: Embed = {"title": "Working", "color": COLOR_INFO}
    if plan:
        embed["description"] = "\n".join(
            f"{_STEP_MARK.get(status, '▫️')} {title}" for title, status in plan
        )
    fields: list[EmbedField] = []
    for line in list(tools)[-max_tools:]:
        state = "⏳" if line.ok is None else ("✅" if line.ok else "❌")
        value = f"`{truncate(line.arguments, 300)}`" if line.arguments else "(no arguments)"
        if line.summary:
            value += f"\n{line.summary}"
        if line.duration_ms is not None:
            value += f"\n{line.duration_ms} ms"
        risk = "" if line.risk == "safe" else f" [{line.risk}]"
        fields.append(EmbedField(name=f"{state} {line.tool}{risk}", value=value, inline=False))
    if fields:
        embed["fields"] = fields
    if not plan and not fields:
        embed["description"] = "…"
    return fit_embed(embed)


def approval_embed(
    *, tool: str, risk: str, arguments: str, reason: str, expires: str, outcome: str | None = None
) -> Embed:
    embed: Embed = {
        "title": f"Approval needed: {tool}",
        "description": reason,
        "color": COLOR_WARN if outcome is None else COLOR_OK,
        "fields": [
            EmbedField(name="Risk", value=risk, inline=True),
            EmbedField(
                name="Arguments", value=f"`{arguments}`" if arguments else "-", inline=False
            ),
        ],
    }
    if outcome is None:  # still open: when it lapses (a decided request has no expiry)
        embed["fields"].insert(1, EmbedField(name="Expires", value=expires, inline=True))
    else:
        embed["footer"] = {"text": outcome}
    return fit_embed(embed)
