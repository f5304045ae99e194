"""Policy inputs as data: a set of files keyed by their path relative to a root.

Everything after reading works on :class:`PolicyFiles`, not on a file system, so the
merge is a pure function of content: the same files give the same snapshot whatever
order a directory listing returns them in, on any machine. Paths are relative POSIX
paths; absolute paths and mtimes never enter a snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
from typing import Literal

from .errors import PolicyFileTooLargeError, PolicyReadError

#: Per-file cap. Policy files go into every model request, so a 1 MB AGENTS.md is a
#: mistake (or an attack on the context window), not documentation.
MAX_POLICY_FILE_BYTES = 32 * 1024

#: Whose files these are; also the word error messages use to say so.
Origin = Literal["workspace", "tenant", "defaults"]


def normalize_relative_path(path: str) -> str:
    """Return ``path`` as a clean relative POSIX path, or raise ``ValueError``.

    Rejects absolute paths and ``..`` so a mapping cannot name a file outside its root.
    ``""`` and ``"."`` mean the root itself.
    """
    if "\\" in path:
        raise ValueError(f"policy paths use '/', not '\\': {path!r}")
    pure = PurePosixPath(path)
    if pure.is_absolute():
        raise ValueError(f"policy paths are relative to their root: {path!r}")
    parts = [p for p in pure.parts if p != "."]
    if ".." in parts:
        raise ValueError(f"policy paths may not contain '..': {path!r}")
    return "/".join(parts)


class PolicyFiles:
    """An immutable set of files (relative path → bytes) from one origin.

    Entries are kept sorted by path, so iteration order never depends on how the
    files were listed or inserted.
    """

    __slots__ = ("_entries", "origin")

    def __init__(self, origin: Origin, entries: Mapping[str, bytes | str] | None = None) -> None:
        normalized: dict[str, bytes] = {}
        for raw_path, content in (entries or {}).items():
            path = normalize_relative_path(raw_path)
            if not path:
                raise ValueError("a policy file needs a name")
            if path in normalized:
                raise ValueError(f"two entries name the same file: {path!r}")
            normalized[path] = content.encode("utf-8") if isinstance(content, str) else content
        self.origin: Origin = origin
        self._entries: tuple[tuple[str, bytes], ...] = tuple(sorted(normalized.items()))

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.get(path) is not None

    def __iter__(self) -> Iterator[str]:
        return (path for path, _ in self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PolicyFiles):
            return NotImplemented
        return self.origin == other.origin and self._entries == other._entries

    def __hash__(self) -> int:
        return hash((self.origin, self._entries))

    def __repr__(self) -> str:
        return f"PolicyFiles({self.origin!r}, {len(self._entries)} files)"

    def get(self, path: str) -> bytes | None:
        """The content of ``path``, or ``None`` when this set does not hold it."""
        for entry_path, content in self._entries:
            if entry_path == path:
                return content
        return None

    def text(self, path: str) -> str | None:
        """The decoded, normalized text of ``path`` (see :func:`decode_policy_text`)."""
        content = self.get(path)
        return None if content is None else decode_policy_text(self.origin, path, content)


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode_policy_text(origin: str, path: str, data: bytes) -> str:
    """Check the size cap and decode ``data`` as UTF-8 into normalized text.

    Normalizing (no byte-order mark, ``\\n`` line endings) makes a file checked out
    with CRLF on one machine hash the same as with LF on another.
    """
    if len(data) > MAX_POLICY_FILE_BYTES:
        raise PolicyFileTooLargeError(
            f"file is larger than {MAX_POLICY_FILE_BYTES} bytes (the cap falls on this line)",
            origin=origin,
            file=path,
            line=_line_at(data, MAX_POLICY_FILE_BYTES),
            details={"max_bytes": MAX_POLICY_FILE_BYTES},
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PolicyReadError(
            f"not valid UTF-8 (byte {e.start})",
            origin=origin,
            file=path,
            line=_line_at(data, e.start),
        ) from e
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n")
