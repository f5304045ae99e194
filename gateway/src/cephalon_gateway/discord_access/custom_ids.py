"""Persistent component custom ids: ``cephalon:<action>[:<session>[:<request>]]``.

They survive restarts because they carry everything needed to act on a click.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "cephalon"
START = f"{PREFIX}:start"


@dataclass(frozen=True, slots=True)
class CustomId:
    action: str
    session: str | None = None
    request: str | None = None

    def __str__(self) -> str:
        parts = [PREFIX, self.action]
        if self.session is not None:
            parts.append(self.session)
        if self.request is not None:
            parts.append(self.request)
        value = ":".join(parts)
        if len(value) > 100:
            raise ValueError("a custom id is at most 100 characters")
        return value


def approve_id(session: str, request: str) -> str:
    return str(CustomId("approve", session, request))


def deny_id(session: str, request: str) -> str:
    return str(CustomId("deny", session, request))


def parse_custom_id(value: str) -> CustomId | None:
    parts = value.split(":")
    if len(parts) < 2 or parts[0] != PREFIX or len(parts) > 4:
        return None
    return CustomId(
        parts[1], parts[2] if len(parts) > 2 else None, parts[3] if len(parts) > 3 else None
    )
