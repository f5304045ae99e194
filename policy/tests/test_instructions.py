"""The nearest-directory AGENTS.md walk."""

from __future__ import annotations

import pytest

from cephalon_policy import PolicyFiles, WorkingDirectoryError, select_agents_files
from cephalon_policy.instructions import agents_candidates, walk_directories


def test_walk_goes_from_the_root_down_to_the_working_directory() -> None:
    assert walk_directories("") == ("",)
    assert walk_directories("a/b/c") == ("", "a", "a/b", "a/b/c")
    assert walk_directories("./a//b/") == ("", "a", "a/b")


@pytest.mark.parametrize("cwd", ["../x", "/abs", "a/../../b"])
def test_working_directory_outside_the_root_is_refused(cwd: str) -> None:
    with pytest.raises(WorkingDirectoryError) as caught:
        walk_directories(cwd)
    assert caught.value.error_code == "POLICY_DENIED"


def test_one_file_per_directory_root_first_nearest_last() -> None:
    files = PolicyFiles(
        "workspace",
        {
            "AGENTS.md": "root",
            "a/AGENTS.md": "a",
            "a/b/AGENTS.md": "b",
            "a/b/c/AGENTS.md": "below the cwd: not read",
            "other/AGENTS.md": "a sibling: not read",
        },
    )
    assert select_agents_files(files, "a/b") == ("AGENTS.md", "a/AGENTS.md", "a/b/AGENTS.md")


def test_override_takes_precedence_in_its_directory() -> None:
    files = PolicyFiles("workspace", {"a/AGENTS.md": "plain", "a/AGENTS.override.md": "override"})
    assert select_agents_files(files, "a") == ("a/AGENTS.override.md",)


@pytest.mark.parametrize(
    ("present", "chosen"),
    [
        ({"CLAUDE.md", "GEMINI.md", ".github/copilot-instructions.md"}, "CLAUDE.md"),
        ({"GEMINI.md", ".github/copilot-instructions.md"}, "GEMINI.md"),
        ({".github/copilot-instructions.md"}, ".github/copilot-instructions.md"),
        ({"AGENTS.md", "CLAUDE.md"}, "AGENTS.md"),
    ],
)
def test_fallbacks_apply_only_without_an_agents_file(present: set[str], chosen: str) -> None:
    files = PolicyFiles("workspace", {path: "text" for path in present})
    assert select_agents_files(files, "") == (chosen,)


def test_a_blank_override_does_not_hide_agents_md() -> None:
    files = PolicyFiles(
        "workspace", {"AGENTS.override.md": "\ufeff \n\n", "AGENTS.md": "the real one"}
    )
    assert select_agents_files(files, "") == ("AGENTS.md",)


def test_candidates_cover_every_name_in_every_directory_in_lookup_order() -> None:
    candidates = agents_candidates("a")
    assert candidates[:2] == ("AGENTS.override.md", "AGENTS.md")
    assert candidates[-1] == "a/.github/copilot-instructions.md"
    assert len(candidates) == 10
