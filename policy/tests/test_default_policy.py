"""The default policy shipped at the repository root loads cleanly as the defaults layer."""

from __future__ import annotations

from pathlib import Path

from cephalon_policy import (
    MAX_POLICY_FILE_BYTES,
    PolicyFiles,
    PolicyInputs,
    SectionKind,
    build_snapshot,
    read_policy_files,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_shipped_defaults_load_as_the_lowest_layer() -> None:
    defaults = read_policy_files(REPO_ROOT, "defaults")
    snapshot = build_snapshot(PolicyInputs(workspace=PolicyFiles("workspace"), defaults=defaults))
    kinds = [section.kind for section in snapshot.sections]
    assert kinds[-2:] == [SectionKind.DEFAULT_RULES, SectionKind.DEFAULT_AGENTS]
    names = {skill.name: skill for skill in snapshot.skills}
    assert {"code-review", "write-tests"} <= set(names)
    assert all(skill.origin == "defaults" for skill in snapshot.skills)
    assert "Bash(git diff:*)" in names["code-review"].allowed_tools
    assert snapshot.mcp_servers == ()


def test_shipped_files_leave_room_under_the_cap() -> None:
    shipped = [REPO_ROOT / "RULES.md", REPO_ROOT / "AGENTS.md"]
    shipped += sorted((REPO_ROOT / "skills").glob("*/SKILL.md"))
    assert len(shipped) >= 4
    for path in shipped:
        assert path.stat().st_size < MAX_POLICY_FILE_BYTES // 4, path
