"""Reading from disk: only candidate files, safe against symlinks and FIFOs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cephalon_policy import (
    MAX_POLICY_FILE_BYTES,
    PolicyFiles,
    PolicyLoadError,
    PolicyReadError,
    WorkingDirectoryError,
    load_snapshot,
    read_policy_files,
)
from cephalon_policy.reading import relative_working_directory


def write(root: Path, relative: str, content: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_reads_only_the_files_policy_uses(tmp_path: Path) -> None:
    for relative in (
        "RULES.md",
        ".mcp.json",
        "AGENTS.md",
        "a/AGENTS.md",
        "a/b/CLAUDE.md",
        "a/b/c/AGENTS.md",
        "x/AGENTS.md",
        "src/main.py",
        "skills/one/SKILL.md",
        "skills/one/scripts/run.sh",
        ".github/skills/two/SKILL.md",
        ".github/copilot-instructions.md",
        "a/RULES.md",
    ):
        write(tmp_path, relative, "x")
    files = read_policy_files(tmp_path, "workspace", cwd="a/b")
    assert list(files) == [
        ".github/copilot-instructions.md",
        ".github/skills/two/SKILL.md",
        ".mcp.json",
        "AGENTS.md",
        "RULES.md",
        "a/AGENTS.md",
        "a/b/CLAUDE.md",
        "skills/one/SKILL.md",
    ]


def test_a_missing_root_is_an_empty_set(tmp_path: Path) -> None:
    assert read_policy_files(tmp_path / "nope", "tenant") == PolicyFiles("tenant")


def test_only_cap_plus_one_bytes_are_read(tmp_path: Path) -> None:
    write(tmp_path, "AGENTS.md", b"y" * (MAX_POLICY_FILE_BYTES * 4))
    files = read_policy_files(tmp_path, "workspace")
    content = files.get("AGENTS.md")
    assert content is not None and len(content) == MAX_POLICY_FILE_BYTES + 1


def test_symlinks_out_of_the_root_are_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "ws", tmp_path / "secret"
    write(outside, "token", "hunter2")
    write(outside, "evil/SKILL.md", "---\nname: evil\ndescription: d\n---\n")
    root.mkdir()
    (root / "AGENTS.md").symlink_to(outside / "token")
    (root / "skills").mkdir()
    (root / "skills" / "evil").symlink_to(outside / "evil")
    with pytest.raises(PolicyLoadError) as caught:
        read_policy_files(root, "workspace")
    assert sorted((e.file, type(e)) for e in caught.value.errors) == [
        ("AGENTS.md", PolicyReadError),
        ("skills/evil/SKILL.md", PolicyReadError),
    ]
    assert all("outside its root" in e.problem for e in caught.value.errors)


def test_symlinks_inside_the_root_are_followed(tmp_path: Path) -> None:
    write(tmp_path, "docs/agents.md", "shared")
    (tmp_path / "AGENTS.md").symlink_to(tmp_path / "docs" / "agents.md")
    (tmp_path / "CLAUDE.md").symlink_to(tmp_path / "missing.md")  # dangling: absent
    files = read_policy_files(tmp_path, "workspace")
    assert files.get("AGENTS.md") == b"shared" and "CLAUDE.md" not in files


def test_a_fifo_is_refused_instead_of_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "AGENTS.md")
    with pytest.raises(PolicyLoadError) as caught:
        read_policy_files(tmp_path, "workspace")
    assert "not a regular file" in caught.value.errors[0].problem


def test_a_directory_named_like_a_policy_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "RULES.md").mkdir()
    with pytest.raises(PolicyLoadError):
        read_policy_files(tmp_path, "workspace")


def test_working_directory_may_be_absolute_inside_the_root(tmp_path: Path) -> None:
    assert relative_working_directory(tmp_path, tmp_path / "a" / "b") == "a/b"
    assert relative_working_directory(tmp_path, tmp_path) == ""
    assert relative_working_directory(tmp_path, "a/b") == "a/b"
    assert relative_working_directory(tmp_path, None) == ""
    with pytest.raises(WorkingDirectoryError):
        relative_working_directory(tmp_path / "ws", tmp_path / "elsewhere")


def test_load_snapshot_reports_errors_of_every_root_together(tmp_path: Path) -> None:
    write(tmp_path, "ws/AGENTS.md", b"\xfe")
    write(tmp_path, "tenant/RULES.md", "x" * (MAX_POLICY_FILE_BYTES + 1))
    with pytest.raises(PolicyLoadError) as caught:
        load_snapshot(tmp_path / "ws", tenant=tmp_path / "tenant")
    assert {(e.origin, e.file) for e in caught.value.errors} == {
        ("tenant", "RULES.md"),
        ("workspace", "AGENTS.md"),
    }


def test_load_snapshot_refuses_a_working_directory_outside(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    with pytest.raises(PolicyLoadError) as caught:
        load_snapshot(tmp_path / "ws", cwd=tmp_path)
    assert caught.value.errors[0].error_code.value == "POLICY_DENIED"


def test_the_hash_does_not_depend_on_where_the_workspace_is(tmp_path: Path) -> None:
    for name in ("one", "two/deeper"):
        write(tmp_path / name, "AGENTS.md", "same")
        write(tmp_path / name, "sub/AGENTS.md", "nested")
    one = load_snapshot(tmp_path / "one", cwd=tmp_path / "one" / "sub")
    two = load_snapshot(tmp_path / "two/deeper", cwd="sub")
    assert one.hash == two.hash
    assert str(tmp_path) not in one.model_dump_json()
