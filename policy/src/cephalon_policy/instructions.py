"""Which instruction files apply: ``RULES.md`` and the nearest-directory AGENTS.md walk.

The walk follows the convention the coding agents share (Codex, Claude Code, Gemini
CLI, Copilot): every directory from the workspace root down to the working directory
may hold one instruction file; the one nearest the working directory wins where they
disagree, so all of them are kept, root first, nearest last. Within one directory the
first non-empty file of :data:`AGENTS_FILENAMES` is used — ``AGENTS.override.md``
before ``AGENTS.md``, then the other agents' names as fallbacks so a repository
written for another agent still works.
"""

from __future__ import annotations

from .errors import WorkingDirectoryError
from .files import PolicyFiles, normalize_relative_path

#: Per directory, the first of these that exists and is not blank is that
#: directory's instruction file.
AGENTS_FILENAMES = (
    "AGENTS.override.md",
    "AGENTS.md",
    "CLAUDE.md",
    "GEMINI.md",
    ".github/copilot-instructions.md",
)

#: The rules file is read at the root of each origin only: rules are a project-wide
#: contract, not something a subdirectory can quietly change.
RULES_FILENAME = "RULES.md"

_BOM = b"\xef\xbb\xbf"


def normalize_working_directory(cwd: str) -> str:
    """``cwd`` relative to the workspace root as a clean POSIX path (``""`` = root)."""
    try:
        return normalize_relative_path(cwd)
    except ValueError as e:
        raise WorkingDirectoryError(str(e), file=None, origin="workspace") from e


def walk_directories(cwd: str) -> tuple[str, ...]:
    """The directories from the root (``""``) down to ``cwd``, root first."""
    clean = normalize_working_directory(cwd)
    if not clean:
        return ("",)
    parts = clean.split("/")
    return ("", *("/".join(parts[: i + 1]) for i in range(len(parts))))


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def agents_candidates(cwd: str) -> tuple[str, ...]:
    """Every path the walk may read for ``cwd``, in lookup order (for readers)."""
    return tuple(
        _join(directory, name) for directory in walk_directories(cwd) for name in AGENTS_FILENAMES
    )


def select_agents_files(files: PolicyFiles, cwd: str) -> tuple[str, ...]:
    """The instruction file of each directory on the walk, root first, nearest last.

    A blank file counts as absent, so an empty ``AGENTS.override.md`` left behind does
    not hide the ``AGENTS.md`` next to it. Only presence is decided here; decoding
    (and its errors) happens when the chosen files are loaded.
    """
    chosen: list[str] = []
    for directory in walk_directories(cwd):
        for name in AGENTS_FILENAMES:
            path = _join(directory, name)
            content = files.get(path)
            if content is not None and content.removeprefix(_BOM).strip():
                chosen.append(path)
                break
    return tuple(chosen)
