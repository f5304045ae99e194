"""What a channel shows, for assertions and the demo's printed transcript: messages
in order, as they read after edits, with embeds, buttons and attachments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cephalon_devkit.discord.state import FLAG_LOADING, Message, World


@dataclass(frozen=True, slots=True)
class Button:
    label: str | None
    custom_id: str | None
    style: int
    disabled: bool
    url: str | None = None


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    message_id: int
    author: str
    author_id: int
    bot: bool
    content: str
    embeds: list[dict[str, Any]] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    edited: bool = False
    edits: int = 0
    visible_to: int | None = None
    """Set on ephemeral messages: the only user who sees them."""
    loading: bool = False
    """A deferred interaction response still "thinking"."""
    reactions: dict[str, int] = field(default_factory=dict)

    def text(self) -> str:
        """The entry as one or more readable lines."""
        who = f"{self.author}{' [bot]' if self.bot else ''}"
        flags = []
        if self.edited:
            flags.append("edited")
        if self.visible_to is not None:
            flags.append(f"only visible to {self.visible_to}")
        head = f"{who}{' (' + ', '.join(flags) + ')' if flags else ''}:"
        lines = [head]
        if self.loading:
            lines.append("  … is thinking")
        for line in self.content.splitlines() or ([""] if not self.embeds else []):
            lines.append(f"  {line}")
        for e in self.embeds:
            title = e.get("title") or ""
            desc = e.get("description") or ""
            lines.append(f"  [embed] {title}" + (f" — {desc}" if desc else ""))
            for f in e.get("fields") or []:
                value_lines = str(f.get("value") or "").splitlines() or [""]
                lines.append(f"    {f.get('name')}: {value_lines[0]}")
                lines.extend(f"      {line}" for line in value_lines[1:])
            footer = (e.get("footer") or {}).get("text")
            if footer:
                lines.append(f"    — {footer}")
        for a in self.attachments:
            lines.append(f"  [file] {a}")
        if self.reactions:
            lines.append("  " + " ".join(f"{e}×{n}" for e, n in self.reactions.items()))
        if self.buttons:
            rendered = " ".join(
                f"[{b.label or b.custom_id}{' (disabled)' if b.disabled else ''}]"
                for b in self.buttons
            )
            lines.append(f"  {rendered}")
        return "\n".join(lines)


def buttons_of(components: Sequence[dict[str, Any]]) -> list[Button]:
    out = []
    for row in components:
        for c in row.get("components") or []:
            if c.get("type") == 2:
                out.append(
                    Button(
                        label=c.get("label"),
                        custom_id=c.get("custom_id"),
                        style=int(c.get("style") or 1),
                        disabled=bool(c.get("disabled")),
                        url=c.get("url"),
                    )
                )
    return out


def entry(world: World, m: Message) -> TranscriptEntry:
    author = world.users[m.author_id]
    return TranscriptEntry(
        message_id=m.id,
        author=author.name,
        author_id=author.id,
        bot=author.bot,
        content=m.content,
        embeds=[dict(e) for e in m.embeds],
        buttons=buttons_of(m.components),
        attachments=[a.filename for a in m.attachments],
        edited=m.edited_timestamp is not None,
        edits=len(m.revisions),
        visible_to=m.visible_to,
        loading=bool(m.flags & FLAG_LOADING),
        reactions={e: len(u) for e, u in m.reactions.items()},
    )


def transcript(
    world: World, channel_id: int, *, include_ephemeral: bool = True
) -> list[TranscriptEntry]:
    return [
        entry(world, m)
        for m in world.live_messages(channel_id)
        if include_ephemeral or m.visible_to is None
    ]


def render(world: World, channel_id: int, *, include_ephemeral: bool = True) -> str:
    c = world.channels.get(channel_id)
    title = f"#{c.name}" if c else f"#{channel_id} (deleted)"
    body = [e.text() for e in transcript(world, channel_id, include_ephemeral=include_ephemeral)]
    return "\n".join([title, *body])
