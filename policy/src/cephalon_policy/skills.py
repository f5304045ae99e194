"""Skills in the Agent Skills layout: ``<root>/<name>/SKILL.md`` with YAML frontmatter.

The frontmatter rules are those of the Agent Skills format, so a skill written for
Claude Code, Codex or Copilot loads here unchanged: ``name`` (required, the folder's
name, lowercase words joined by single hyphens, at most 64 characters),
``description`` (required, at most 1,024 characters), and the optional ``license``,
``compatibility`` (at most 500), ``allowed-tools`` (space-separated string or list)
and ``metadata`` (string keys to scalar values). Other keys are tolerated — agents add
their own — and still change the snapshot hash, since the hash covers the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from .errors import FrontmatterError, PolicyError, SkillValidationError
from .files import Origin, PolicyFiles, decode_policy_text

#: Where skills live, in lookup order: the first root that defines a name wins.
SKILL_ROOTS = ("skills", ".claude/skills", ".agents/skills", ".github/skills")
SKILL_FILENAME = "SKILL.md"

NAME_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_NAME_CHARS = 64
MAX_DESCRIPTION_CHARS = 1024
MAX_COMPATIBILITY_CHARS = 500

_FENCE = "---"
_FENCE_END = ("---", "...")


class Skill(BaseModel):
    """One validated skill. ``body`` is the Markdown after the frontmatter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    allowed_tools: tuple[str, ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()
    license: str | None = None
    compatibility: str | None = None
    body: str
    origin: Origin
    source: str

    @property
    def tool_name(self) -> str:
        """The name risk rules use for this skill (``skill:<name>``)."""
        return f"skill:{self.name}"

    def metadata_dict(self) -> dict[str, str]:
        """``metadata`` as a fresh dict (the model itself stays immutable)."""
        return dict(self.metadata)


def _split_frontmatter(origin: Origin, path: str, text: str) -> tuple[str, str, int]:
    """Return (frontmatter, body, line number of the first frontmatter line)."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != _FENCE:
        raise FrontmatterError(
            "SKILL.md must start with '---' and YAML frontmatter", origin=origin, file=path, line=1
        )
    for index in range(1, len(lines)):
        if lines[index].rstrip() in _FENCE_END:
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :]), 2
    raise FrontmatterError(
        "frontmatter is not closed by a '---' line", origin=origin, file=path, line=1
    )


def _parse_yaml(
    origin: Origin, path: str, frontmatter: str, first_line: int
) -> tuple[dict[str, Any], dict[str, int]]:
    """Parse the frontmatter; return the mapping and the line of each key."""
    try:
        node = yaml.compose(frontmatter, Loader=yaml.SafeLoader)
        data = yaml.safe_load(frontmatter)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = first_line + mark.line if mark is not None else first_line
        raise FrontmatterError(
            f"frontmatter is not valid YAML: {e.problem or e}", origin=origin, file=path, line=line
        ) from e
    except yaml.YAMLError as e:
        raise FrontmatterError(
            f"frontmatter is not valid YAML: {e}", origin=origin, file=path, line=first_line
        ) from e
    if not isinstance(node, yaml.MappingNode) or not isinstance(data, dict):
        raise FrontmatterError(
            "frontmatter must be a YAML mapping (key: value lines)",
            origin=origin,
            file=path,
            line=first_line,
        )
    lines: dict[str, int] = {}
    for key_node, _ in node.value:
        key = str(key_node.value)
        line = first_line + key_node.start_mark.line
        if key in lines:
            raise FrontmatterError(
                f"key {key!r} appears twice", origin=origin, file=path, line=line
            )
        lines[key] = line
    return data, lines


def split_allowed_tools(value: str) -> tuple[str, ...]:
    """Split a space-separated ``allowed-tools`` string, keeping ``Bash(git diff:*)`` whole.

    The spec separates tools by spaces, but a tool's argument pattern in parentheses
    may itself contain spaces; a space inside parentheses does not separate.
    """
    tools: list[str] = []
    current: list[str] = []
    depth = 0
    for char in value:
        if char.isspace() and depth == 0:
            if current:
                tools.append("".join(current))
                current = []
            continue
        depth += 1 if char == "(" else -1 if char == ")" and depth > 0 else 0
        current.append(char)
    if current:
        tools.append("".join(current))
    return tuple(tools)


def _scalar_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        # YAML turns `version: 1.0` into a float; the spec means the text.
        return str(value).lower() if isinstance(value, bool) else str(value)
    return None


def parse_skill(origin: Origin, path: str, text: str) -> Skill:
    """Validate one ``<root>/<folder>/SKILL.md`` and return it as a :class:`Skill`."""
    frontmatter, body, first_line = _split_frontmatter(origin, path, text)
    data, key_lines = _parse_yaml(origin, path, frontmatter, first_line)
    folder = path.split("/")[-2]

    def fail(problem: str, key: str | None) -> SkillValidationError:
        line = key_lines.get(key, first_line) if key else first_line
        return SkillValidationError(problem, origin=origin, file=path, line=line)

    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise fail("frontmatter needs 'name' (a string)", "name" if "name" in data else None)
    if len(name) > MAX_NAME_CHARS or not NAME_PATTERN.fullmatch(name):
        raise fail(
            f"name {name!r} must be lowercase letters and digits in words joined by single "
            f"hyphens (^[a-z0-9]+(-[a-z0-9]+)*$), at most {MAX_NAME_CHARS} characters",
            "name",
        )
    if name != folder:
        raise fail(f"name {name!r} must match its folder {folder!r}", "name")

    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise fail(
            "frontmatter needs a non-empty 'description' (a string)",
            "description" if "description" in data else None,
        )
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise fail(
            f"description is {len(description)} characters; at most "
            f"{MAX_DESCRIPTION_CHARS} are allowed",
            "description",
        )

    allowed_raw = data.get("allowed-tools")
    allowed: tuple[str, ...] = ()
    if isinstance(allowed_raw, str):
        allowed = split_allowed_tools(allowed_raw)
    elif isinstance(allowed_raw, list) and all(isinstance(t, str) and t for t in allowed_raw):
        allowed = tuple(allowed_raw)
    elif allowed_raw is not None:
        raise fail("'allowed-tools' must be a space-separated string or a list", "allowed-tools")

    metadata_raw = data.get("metadata")
    metadata: list[tuple[str, str]] = []
    if isinstance(metadata_raw, Mapping):
        for key, value in metadata_raw.items():
            text_value = _scalar_text(value)
            if not isinstance(key, str) or text_value is None:
                raise fail("'metadata' must map string keys to string values", "metadata")
            metadata.append((key, text_value))
    elif metadata_raw is not None:
        raise fail("'metadata' must be a mapping", "metadata")

    optional: dict[str, str | None] = {}
    for key, limit in (("license", None), ("compatibility", MAX_COMPATIBILITY_CHARS)):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise fail(f"{key!r} must be a string", key)
        if value is not None and limit is not None and len(value) > limit:
            raise fail(f"{key!r} is longer than {limit} characters", key)
        optional[key] = value

    return Skill(
        name=name,
        description=description.strip(),
        allowed_tools=allowed,
        metadata=tuple(sorted(metadata)),
        license=optional["license"],
        compatibility=optional["compatibility"],
        body=body.strip("\n"),
        origin=origin,
        source=path,
    )


def skill_paths(files: PolicyFiles) -> tuple[str, ...]:
    """Every ``<root>/<name>/SKILL.md`` in ``files``, by root order then name."""
    found: list[tuple[int, str]] = []
    for path in files:
        parts = path.split("/")
        for rank, root in enumerate(SKILL_ROOTS):
            root_parts = root.split("/")
            if (
                len(parts) == len(root_parts) + 2
                and parts[: len(root_parts)] == root_parts
                and parts[-1] == SKILL_FILENAME
            ):
                found.append((rank, path))
    return tuple(path for _, path in sorted(found))


def load_skills(files: PolicyFiles) -> tuple[dict[str, Skill], list[PolicyError]]:
    """Every valid skill of ``files`` by name, and the errors of the invalid ones.

    When two roots define the same name, the first root of :data:`SKILL_ROOTS` wins
    and the later one is not read — it is shadowed, so its errors do not matter, and
    a broken first one is an error rather than a silent fall-through to the next.
    """
    skills: dict[str, Skill] = {}
    errors: list[PolicyError] = []
    seen: set[str] = set()
    for path in skill_paths(files):
        folder = path.split("/")[-2]
        if folder in seen:
            continue
        seen.add(folder)
        try:
            text = decode_policy_text(files.origin, path, files.get(path) or b"")
            skills[folder] = parse_skill(files.origin, path, text)
        except PolicyError as e:
            errors.append(e)
    return skills, errors
