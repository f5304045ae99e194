"""Reading policy files from disk: the only part of the package that does I/O.

It reads just the files policy uses — ``RULES.md``, ``.mcp.json``, the instruction
files on the walk from the root to the working directory, and
``<skill root>/<name>/SKILL.md`` — never the whole tree, so a large repository costs a
few ``stat`` calls. Directory listings are sorted before use, and what comes back is
a :class:`~cephalon_policy.files.PolicyFiles`, which sorts again; nothing downstream
can see the order the file system listed things in.

A workspace is untrusted input: a symlink that resolves outside the root (say to the
session's credentials) and anything that is not a regular file (a FIFO would block
the read) are refused with an error instead of being read. At most
``MAX_POLICY_FILE_BYTES + 1`` bytes are read from any file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from .errors import PolicyError, PolicyLoadError, PolicyReadError, WorkingDirectoryError
from .files import MAX_POLICY_FILE_BYTES, Origin, PolicyFiles
from .instructions import RULES_FILENAME, agents_candidates, normalize_working_directory
from .mcp_config import MCP_CONFIG_FILENAME
from .merge import PolicyInputs, SessionOverrides, build_snapshot
from .risk import RiskConfig
from .skills import SKILL_FILENAME, SKILL_ROOTS
from .snapshot import PolicySnapshot


def relative_working_directory(root: Path, cwd: Path | str | None) -> str:
    """``cwd`` as a path relative to ``root`` (an absolute ``cwd`` must lie inside it)."""
    if cwd is None:
        return ""
    if isinstance(cwd, Path) and cwd.is_absolute():
        try:
            relative = cwd.resolve().relative_to(root.resolve()).as_posix()
        except ValueError as e:
            raise WorkingDirectoryError(
                "the working directory is not inside the workspace",
                file=None,
                origin="workspace",
            ) from e
        return normalize_working_directory(relative)
    return normalize_working_directory(cwd if isinstance(cwd, str) else cwd.as_posix())


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def _read_one(root: Path, relative: str, origin: Origin) -> bytes | None:
    candidate = root / relative
    if not os.path.lexists(candidate):
        return None
    try:
        resolved = candidate.resolve()
        if not _inside(resolved, root):
            raise PolicyReadError(
                "is a symlink to a place outside its root; refusing to read it",
                origin=origin,
                file=relative,
            )
        if not resolved.exists():
            return None  # a dangling symlink inside the root is just absent
        if not stat.S_ISREG(resolved.stat().st_mode):
            raise PolicyReadError("is not a regular file", origin=origin, file=relative)
        with resolved.open("rb") as handle:
            return handle.read(MAX_POLICY_FILE_BYTES + 1)
    except OSError as e:
        raise PolicyReadError(
            f"cannot be read: {e.strerror or e}", origin=origin, file=relative
        ) from e


def _skill_candidates(root: Path, origin: Origin) -> list[str]:
    found: list[str] = []
    for skill_root in SKILL_ROOTS:
        directory = root / skill_root
        try:
            if not directory.is_dir() or not _inside(directory.resolve(), root):
                continue
            names = sorted(entry.name for entry in directory.iterdir() if entry.is_dir())
        except OSError as e:
            raise PolicyReadError(
                f"cannot list the skills folder: {e.strerror or e}", origin=origin, file=skill_root
            ) from e
        found.extend(f"{skill_root}/{name}/{SKILL_FILENAME}" for name in names)
    return found


def read_policy_files(root: Path, origin: Origin, *, cwd: Path | str | None = None) -> PolicyFiles:
    """Read the policy files under ``root`` (missing root: an empty set).

    ``cwd`` selects the AGENTS.md walk; it is relative to ``root`` unless it is an
    absolute :class:`~pathlib.Path`. Raises :class:`PolicyLoadError` listing every
    file that could not be read.
    """
    if not root.is_dir():
        return PolicyFiles(origin)
    resolved_root = root.resolve()
    relative_cwd = relative_working_directory(resolved_root, cwd)
    errors: list[PolicyError] = []
    candidates = [RULES_FILENAME, MCP_CONFIG_FILENAME, *agents_candidates(relative_cwd)]
    try:
        candidates += _skill_candidates(resolved_root, origin)
    except PolicyError as e:
        errors.append(e)
    entries: dict[str, bytes] = {}
    for relative in dict.fromkeys(candidates):
        try:
            content = _read_one(resolved_root, relative, origin)
        except PolicyError as e:
            errors.append(e)
            continue
        if content is not None:
            entries[relative] = content
    if errors:
        raise PolicyLoadError(errors)
    return PolicyFiles(origin, entries)


def load_snapshot(
    workspace: Path,
    *,
    cwd: Path | str | None = None,
    tenant: Path | None = None,
    defaults: Path | None = None,
    session: SessionOverrides | None = None,
    risk: RiskConfig | None = None,
    variables: Mapping[str, str] | None = None,
) -> PolicySnapshot:
    """Read the three roots and merge them; the runtime's one call for a snapshot.

    Errors from every root are reported together in one :class:`PolicyLoadError`.
    """
    errors: list[PolicyError] = []

    def read(root: Path | None, origin: Origin, at: Path | str | None) -> PolicyFiles | None:
        if root is None:
            return None
        try:
            return read_policy_files(root, origin, cwd=at)
        except PolicyLoadError as e:
            errors.extend(e.errors)
        except PolicyError as e:
            errors.append(e)
        return None

    try:
        relative_cwd = relative_working_directory(workspace, cwd)
    except PolicyError as e:
        raise PolicyLoadError([e]) from e
    workspace_files = read(workspace, "workspace", relative_cwd)
    tenant_files = read(tenant, "tenant", None)
    default_files = read(defaults, "defaults", None)
    if errors or workspace_files is None:
        raise PolicyLoadError(errors)
    return build_snapshot(
        PolicyInputs(
            workspace=workspace_files,
            tenant=tenant_files,
            defaults=default_files,
            cwd=relative_cwd,
            session=session or SessionOverrides(),
            risk=risk or RiskConfig(),
            variables=variables or {},
        )
    )
