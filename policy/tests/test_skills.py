"""Agent Skills: SKILL.md frontmatter rules, errors with file and line, root order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cephalon_contracts.errors import ErrorCode
from cephalon_policy import FrontmatterError, PolicyFiles, SkillValidationError, parse_skill
from cephalon_policy.skills import NAME_PATTERN, load_skills, skill_paths, split_allowed_tools

GOOD = """\
---
name: code-review
description: Review a diff for bugs, missing tests and unclear names.
license: Apache-2.0
compatibility: Needs git.
allowed-tools: Bash(git diff:*) Read
metadata:
  owner: platform
  version: 2.0
  stable: true
---
# Code review

Steps.
"""


def parse(text: str, path: str = "skills/code-review/SKILL.md") -> object:
    return parse_skill("workspace", path, text)


def test_a_good_skill_keeps_every_field() -> None:
    skill = parse_skill("workspace", "skills/code-review/SKILL.md", GOOD)
    assert skill.name == "code-review"
    assert skill.description.startswith("Review a diff")
    assert skill.allowed_tools == ("Bash(git diff:*)", "Read")
    assert skill.metadata_dict() == {"owner": "platform", "stable": "true", "version": "2.0"}
    assert skill.license == "Apache-2.0" and skill.compatibility == "Needs git."
    assert skill.body == "# Code review\n\nSteps."
    assert skill.tool_name == "skill:code-review"
    assert (skill.origin, skill.source) == ("workspace", "skills/code-review/SKILL.md")


@pytest.mark.parametrize(
    ("value", "tools"),
    [
        ("Read", ("Read",)),
        ("  Bash(git:*)   Bash(jq:*) Read ", ("Bash(git:*)", "Bash(jq:*)", "Read")),
        ("Bash(git log --oneline:*) Edit", ("Bash(git log --oneline:*)", "Edit")),
        ("Bash(a (b c)) d", ("Bash(a (b c))", "d")),
        ("a) b", ("a)", "b")),
        ("", ()),
    ],
)
def test_allowed_tools_split_on_spaces_outside_parentheses(
    value: str, tools: tuple[str, ...]
) -> None:
    assert split_allowed_tools(value) == tools


def test_allowed_tools_may_be_a_yaml_list() -> None:
    text = GOOD.replace("allowed-tools: Bash(git diff:*) Read", "allowed-tools: [Read, Edit]")
    assert parse_skill("workspace", "skills/code-review/SKILL.md", text).allowed_tools == (
        "Read",
        "Edit",
    )


def test_unknown_frontmatter_keys_are_tolerated() -> None:
    text = GOOD.replace("license: Apache-2.0", "license: Apache-2.0\nmodel: fast")
    assert parse_skill("workspace", "skills/code-review/SKILL.md", text).name == "code-review"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("# no frontmatter\n", 1, "must start with '---'"),
        ("---\nname: code-review\n", 1, "not closed"),
        ("---\nname: code-review\ndescription: [unclosed\n---\n", 3, "not valid YAML"),
        ("---\nname: code-review\n  bad: indent\n---\n", 3, "not valid YAML"),
        ("---\n- a list\n---\n", 2, "must be a YAML mapping"),
        ("---\nname: a\nname: b\n---\n", 3, "appears twice"),
    ],
)
def test_frontmatter_errors_name_file_and_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(FrontmatterError) as caught:
        parse(text)
    error = caught.value
    assert (error.file, error.line) == ("skills/code-review/SKILL.md", line)
    assert fragment in error.problem
    assert error.error_code is ErrorCode.POLICY_INVALID_FILE
    assert f"skills/code-review/SKILL.md:{line}" in error.message


@pytest.mark.parametrize(
    ("frontmatter", "line", "fragment"),
    [
        ("description: d", 2, "needs 'name'"),
        ("description: d\nname: 7", 3, "needs 'name'"),
        ("name: Code-Review\ndescription: d", 2, "lowercase"),
        ("name: code--review\ndescription: d", 2, "lowercase"),
        ("name: -code-review\ndescription: d", 2, "lowercase"),
        ("name: code-review-\ndescription: d", 2, "lowercase"),
        ("name: other-name\ndescription: d", 2, "must match its folder"),
        ("name: code-review", 2, "description"),
        ("name: code-review\ndescription: '  '", 3, "description"),
        ("name: code-review\n\ndescription: " + "x" * 1025, 4, "at most 1024"),
        ("name: code-review\ndescription: d\nallowed-tools: {a: b}", 4, "allowed-tools"),
        ("name: code-review\ndescription: d\nmetadata: [a]", 4, "metadata"),
        ("name: code-review\ndescription: d\nmetadata: {a: [1]}", 4, "metadata"),
        ("name: code-review\ndescription: d\nlicense: 3", 4, "license"),
        ("name: code-review\ndescription: d\ncompatibility: " + "y" * 501, 4, "compat"),
    ],
)
def test_field_rules_name_the_line_of_the_key(frontmatter: str, line: int, fragment: str) -> None:
    with pytest.raises(SkillValidationError) as caught:
        parse(f"---\n{frontmatter}\n---\nbody\n")
    assert caught.value.line == line
    assert fragment in caught.value.problem


def test_description_of_exactly_1024_characters_is_accepted() -> None:
    text = f"---\nname: code-review\ndescription: {'x' * 1024}\n---\n"
    assert len(parse_skill("workspace", "skills/code-review/SKILL.md", text).description) == 1024


def test_name_of_65_characters_is_rejected() -> None:
    name = "a" * 65
    with pytest.raises(SkillValidationError):
        parse(f"---\nname: {name}\ndescription: d\n---\n", path=f"skills/{name}/SKILL.md")


@given(st.from_regex(r"[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,3}", fullmatch=True))
def test_every_name_the_pattern_allows_loads(name: str) -> None:
    text = f"---\nname: '{name}'\ndescription: d\n---\n"
    assert parse_skill("tenant", f"skills/{name}/SKILL.md", text).name == name


@given(st.text(alphabet="abcXYZ09-_ .", min_size=1, max_size=12))
def test_names_outside_the_pattern_are_rejected(name: str) -> None:
    if NAME_PATTERN.fullmatch(name):
        return
    quoted = name.replace("'", "''")
    with pytest.raises(SkillValidationError):
        parse_skill("tenant", "skills/x/SKILL.md", f"---\nname: '{quoted}'\ndescription: d\n---\n")


def skill(name: str, description: str = "d") -> str:
    return f"---\nname: {name}\ndescription: {description}\n---\n"


def test_all_four_roots_are_found_and_the_first_root_wins() -> None:
    files = PolicyFiles(
        "workspace",
        {
            ".github/skills/a/SKILL.md": skill("a", "from .github"),
            ".agents/skills/a/SKILL.md": skill("a", "from .agents"),
            ".claude/skills/b/SKILL.md": skill("b"),
            ".agents/skills/c/SKILL.md": skill("c"),
            ".github/skills/d/SKILL.md": skill("d"),
            "skills/e/SKILL.md": skill("e"),
            "skills/e/references/notes.md": "not a skill",
            "skills/deep/er/SKILL.md": skill("er"),
            "docs/skills/f/SKILL.md": skill("f"),
        },
    )
    skills, errors = load_skills(files)
    assert errors == []
    assert sorted(skills) == ["a", "b", "c", "d", "e"]
    assert skills["a"].description == "from .agents"
    assert skill_paths(files)[0] == "skills/e/SKILL.md"


def test_a_broken_skill_in_the_first_root_is_an_error_not_a_fall_through() -> None:
    files = PolicyFiles(
        "workspace",
        {"skills/a/SKILL.md": "no frontmatter", ".claude/skills/a/SKILL.md": skill("a")},
    )
    skills, errors = load_skills(files)
    assert skills == {}
    assert [e.file for e in errors] == ["skills/a/SKILL.md"]


def test_every_broken_skill_is_reported() -> None:
    files = PolicyFiles(
        "workspace",
        {
            "skills/a/SKILL.md": skill("b"),
            "skills/c/SKILL.md": "x",
            "skills/d/SKILL.md": skill("d"),
        },
    )
    skills, errors = load_skills(files)
    assert list(skills) == ["d"]
    assert [(e.file, type(e).__name__) for e in errors] == [
        ("skills/a/SKILL.md", "SkillValidationError"),
        ("skills/c/SKILL.md", "FrontmatterError"),
    ]
