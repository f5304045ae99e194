"""docs/policy.md must keep describing the policy package as it is."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from cephalon_policy import (
    AGENTS_FILENAMES,
    DEFAULT_RISK_TABLE,
    SKILL_ROOTS,
    errors,
    parse_mcp_config,
    parse_skill,
)
from cephalon_policy.errors import PolicyError

DOC = (Path(__file__).parents[2] / "docs" / "policy.md").read_text(encoding="utf-8")
ERROR_CLASSES = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, PolicyError) and cls is not PolicyError
]


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_error_is_in_the_table_with_its_code(cls: type[PolicyError]) -> None:
    row = next((line for line in DOC.splitlines() if line.startswith(f"| `{cls.__name__}`")), "")
    assert row, f"{cls.__name__} is not documented"
    if cls.__name__ != "PolicyLoadError":
        assert f"`{cls.error_code.value}`" in row


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_error_is_in_the_tree_of_the_errors_module(cls: type[PolicyError]) -> None:
    assert cls.__name__ in (errors.__doc__ or "")


@pytest.mark.parametrize(("pattern", "level"), DEFAULT_RISK_TABLE)
def test_every_default_rule_is_in_the_table_under_its_level(pattern: str, level: str) -> None:
    rows = [line for line in DOC.splitlines() if line.startswith(f"| `{level}` |")]
    assert any(f"`{pattern}`" in row for row in rows), pattern


def test_lookup_orders_match_the_code() -> None:
    listed = re.findall(r"^\d\. `([^`]+)`$", DOC, re.M)
    assert tuple(listed) == AGENTS_FILENAMES
    assert ", ".join(f"`{root}/`" for root in SKILL_ROOTS) in DOC


def test_the_examples_are_valid() -> None:
    (mcp_json,) = re.findall(r"```json\n(.*?)\n```", DOC, re.S)
    servers = parse_mcp_config("workspace", ".mcp.json", mcp_json, {"SESSION_TOKEN": "t"})
    assert [s.name for s in servers] == ["issues", "search"]
    (skill_md,) = re.findall(r"```markdown\n(.*?)\n```", DOC, re.S)
    skill = parse_skill("workspace", "skills/code-review/SKILL.md", skill_md)
    assert skill.allowed_tools == ("Read", "Grep", "Bash(git diff:*)")
