"""SnapshotHolder keeps the last good snapshot when a reload fails."""

from __future__ import annotations

from cephalon_policy import (
    PolicyFiles,
    PolicyInputs,
    PolicySnapshot,
    SnapshotHolder,
    build_snapshot,
)
from cephalon_policy.errors import WorkingDirectoryError


def snapshot(agents: str) -> PolicySnapshot:
    return build_snapshot(PolicyInputs(workspace=PolicyFiles("workspace", {"AGENTS.md": agents})))


def broken() -> PolicySnapshot:
    return build_snapshot(
        PolicyInputs(
            workspace=PolicyFiles("workspace", {"skills/a/SKILL.md": "x", ".mcp.json": "{"})
        )
    )


def test_first_good_load_is_kept_and_reported_as_changed() -> None:
    holder = SnapshotHolder()
    assert holder.current is None
    result = holder.reload(lambda: snapshot("v1"))
    assert result.ok and result.changed and result.snapshot is holder.current
    assert holder.current is not None


def test_a_failed_reload_keeps_the_previous_snapshot_and_returns_every_error() -> None:
    good = snapshot("v1")
    holder = SnapshotHolder(good)
    result = holder.reload(broken)
    assert not result.ok and not result.changed
    assert result.snapshot is good and holder.current is good
    assert [e.file for e in result.errors] == ["skills/a/SKILL.md", ".mcp.json"]


def test_a_failed_first_load_leaves_no_snapshot() -> None:
    holder = SnapshotHolder()
    result = holder.reload(broken)
    assert result.snapshot is None and len(result.errors) == 2


def test_a_single_policy_error_is_caught_too() -> None:
    def load() -> PolicySnapshot:
        raise WorkingDirectoryError("outside", file=None, origin="workspace")

    result = SnapshotHolder().reload(load)
    assert [type(e) for e in result.errors] == [WorkingDirectoryError]


def test_same_content_is_not_a_change_and_new_content_is() -> None:
    holder = SnapshotHolder(snapshot("v1"))
    assert not holder.reload(lambda: snapshot("v1")).changed
    assert holder.reload(lambda: snapshot("v2")).changed
