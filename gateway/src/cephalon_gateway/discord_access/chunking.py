"""Splitting long text into Discord messages (2,000 characters) without breaking code
fences: a chunk that ends inside a fenced block closes it, and the next chunk reopens
it with the same opening line (language included). Splits prefer line ends; a line
longer than a whole message is cut hard."""

from __future__ import annotations

import re

MESSAGE_LIMIT = 2000
_FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")


def _fence_of(line: str) -> tuple[str, str] | None:
    """``(marker, opening line)`` if ``line`` is a fence line."""
    match = _FENCE.match(line.strip())
    if not match:
        return None
    return match.group(1), line.strip()


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Chunks of at most ``limit`` characters whose fences are all balanced.

    Joining the chunks after removing the added closing line at the end of a chunk and
    the reopening line at the start of the next gives ``text`` back.
    """
    if limit < 20:
        raise ValueError("limit too small to carry a fence")
    if len(text) <= limit:
        return [text] if text else []
    chunks: list[str] = []
    current = ""
    has_body = False  # ``current`` holds more than a reopened fence
    open_fence: tuple[str, str] | None = None  # (marker, opening line)

    def flush() -> None:
        nonlocal current, has_body
        chunk = current
        if open_fence is not None:
            chunk += ("" if chunk.endswith("\n") else "\n") + open_fence[0]
        chunks.append(chunk)
        current = open_fence[1] + "\n" if open_fence is not None else ""
        has_body = False

    for line in text.splitlines(keepends=True):
        while line:
            fence = _fence_of(line)
            after = open_fence
            if fence is not None:
                if open_fence is None:
                    after = fence
                elif (
                    fence[1] == fence[0]
                    and fence[0][0] == open_fence[0][0]
                    and len(fence[0]) >= len(open_fence[0])
                ):
                    after = None
            reserve = len(after[0]) + 1 if after is not None else 0
            room = limit - len(current) - reserve
            if len(line) <= room:
                current += line
                has_body = True
                open_fence = after
                line = ""
            elif has_body:
                flush()
            else:
                # A single line longer than a message: cut it (never a fence line).
                cut = max(1, limit - len(current) - (len(open_fence[0]) + 1 if open_fence else 0))
                current += line[:cut]
                has_body = True
                line = line[cut:]
                flush()
    if has_body or not chunks:
        chunks.append(current)
    return chunks
