"""Server-sent events, cut out of a byte stream one complete event at a time.

The proxy forwards each event as soon as its blank line arrives — never a whole answer
— and leaves its bytes exactly as the provider sent them. It only looks inside the few
events that carry ``"usage"``.
"""

from __future__ import annotations

import json
import re
from typing import Any

_BOUNDARY = re.compile(rb"\r?\n\r?\n")
DONE = b"data: [DONE]\n\n"


class SseSplitter:
    """Feed bytes, get complete events (each with its trailing blank line)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        events: list[bytes] = []
        start = 0
        for match in _BOUNDARY.finditer(self._buffer):
            events.append(self._buffer[start : match.end()])
            start = match.end()
        self._buffer = self._buffer[start:]
        return events

    def rest(self) -> bytes:
        """Bytes after the last complete event (a stream cut mid-event)."""
        rest, self._buffer = self._buffer, b""
        return rest


def event_fields(event: bytes) -> tuple[str | None, bytes]:
    """The ``event:`` name (if any) and the joined ``data:`` lines of one event."""
    name: str | None = None
    data: list[bytes] = []
    for line in event.splitlines():
        if line.startswith(b"data:"):
            data.append(line[5:].removeprefix(b" "))
        elif line.startswith(b"event:"):
            name = line[6:].strip().decode("utf-8", "replace")
    return name, b"\n".join(data)


def encode(payload: dict[str, Any] | str) -> bytes:
    """One ``data:`` event; a ``str`` is sent raw (``[DONE]``)."""
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


def usage_of(data: bytes) -> tuple[dict[str, Any], bool] | None:
    """``(usage, usage_only)`` of a chat-completion chunk carrying usage, else ``None``;
    ``usage_only`` is the extra last chunk (``choices: []``) of ``include_usage``."""
    if b'"usage"' not in data:
        return None
    try:
        chunk = json.loads(data)
    except ValueError:
        return None
    if not isinstance(chunk, dict) or not isinstance(chunk.get("usage"), dict):
        return None
    return chunk["usage"], not chunk.get("choices")
