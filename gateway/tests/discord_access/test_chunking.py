from __future__ import annotations

import random

import pytest

from cephalon_gateway.discord_access.chunking import MESSAGE_LIMIT, split_message


def _fence_lines(chunk: str) -> list[str]:
    return [line for line in chunk.splitlines() if line.strip().startswith("```")]


def test_short_text_is_one_chunk() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("") == []


def test_plain_text_splits_at_line_ends_within_the_limit() -> None:
    text = "".join(f"line {i} " + "x" * 50 + "\n" for i in range(200))
    chunks = split_message(text)
    assert all(len(c) <= MESSAGE_LIMIT for c in chunks)
    assert "".join(chunks) == text
    assert all(c.endswith("\n") for c in chunks)


def test_code_fence_is_closed_and_reopened_with_its_language() -> None:
    code = "".join(f"print({i})  # {'y' * 40}\n" for i in range(120))
    text = "Here you go:\n```python\n" + code + "```\nDone.\n"
    chunks = split_message(text)
    assert len(chunks) > 1
    for chunk in chunks:
        assert len(chunk) <= MESSAGE_LIMIT
        assert len(_fence_lines(chunk)) % 2 == 0, chunk[-200:]
    assert chunks[1].startswith("```python\n")
    # Removing the added fences gives the text back.
    stripped = [chunks[0].removesuffix("```")] + [
        c.removeprefix("```python\n").removesuffix("```")
        if i < len(chunks) - 1
        else c.removeprefix("```python\n")
        for i, c in enumerate(chunks[1:], 1)
    ]
    assert "".join(stripped) == text


def test_a_line_longer_than_a_message_is_cut() -> None:
    text = "a" * 4500
    chunks = split_message(text)
    assert [len(c) for c in chunks] == [2000, 2000, 500]
    assert "".join(chunks) == text


def test_long_line_inside_a_fence_keeps_fences_balanced() -> None:
    text = "```\n" + "b" * 5000 + "\n```\n"
    chunks = split_message(text)
    for chunk in chunks:
        assert len(chunk) <= MESSAGE_LIMIT
        assert len(_fence_lines(chunk)) % 2 == 0


@pytest.mark.parametrize("seed", range(20))
def test_random_markdown_stays_balanced_and_complete(seed: int) -> None:
    rng = random.Random(seed)
    parts = []
    for _ in range(rng.randint(5, 60)):
        if rng.random() < 0.3:
            lang = rng.choice(["", "python", "sh"])
            body = "".join("z" * rng.randint(0, 300) + "\n" for _ in range(rng.randint(1, 30)))
            parts.append(f"```{lang}\n{body}```\n")
        else:
            parts.append("w" * rng.randint(0, 900) + "\n")
    text = "".join(parts)
    chunks = split_message(text)
    assert all(0 < len(c) <= MESSAGE_LIMIT for c in chunks)
    for chunk in chunks:
        assert len(_fence_lines(chunk)) % 2 == 0
    # Every original character survives, in order (added fences only add characters).
    assert sum(len(c) for c in chunks) >= len(text)
    it = iter("".join(chunks))
    assert all(ch in it for ch in text)
