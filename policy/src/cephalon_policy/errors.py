"""The exceptions of the policy package.

Every policy error is a :class:`~cephalon_contracts.errors.ContractError`, so it carries
an :class:`~cephalon_contracts.errors.ErrorCode` and turns into an ``ErrorEnvelope``
with ``to_envelope``. Each one names the file it is about (``origin`` says whose file:
``workspace``, ``tenant`` or ``defaults``) and, where there is one, the 1-based line,
because the person who has to fix a broken ``SKILL.md`` needs to know where to look::

    ContractError                      (cephalon_contracts: error_code, message, details)
    └── PolicyError                    POLICY_INVALID_FILE; .origin .file .line .problem
        ├── PolicyFileTooLargeError    POLICY_FILE_TOO_LARGE: over the 32 KiB cap
        ├── PolicyReadError            not UTF-8, not a regular file, symlink out of root,
        │                              or the OS refused to read it
        ├── FrontmatterError           SKILL.md frontmatter missing, not YAML, not a mapping
        ├── SkillValidationError       a frontmatter field breaks the Agent Skills rules
        ├── McpConfigError             .mcp.json is not JSON or not the mcpServers shape
        ├── UnknownVariableError       ${VAR} names a variable the session does not allow
        ├── RiskConfigError            a tool pattern or risk level in tenant/session config
        ├── WorkingDirectoryError      POLICY_DENIED: working directory outside the root
        └── PolicyLoadError            several of the above from one load; ``.errors``

Loaders collect every error of one load and raise a single :class:`PolicyLoadError`,
so ``/policy reload`` can list all broken files at once instead of one per attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cephalon_contracts.errors import ContractError, ErrorCode, ErrorEnvelope

#: Longest problem text kept in a message; the envelope allows 2,000 characters and a
#: YAML parser can produce long explanations.
_MAX_PROBLEM_CHARS = 500


def _location(origin: str | None, file: str | None, line: int | None) -> str:
    if file is None:
        return origin or ""
    where = f"{file}:{line}" if line is not None else file
    return f"{origin} {where}" if origin else where


class PolicyError(ContractError):
    """A policy input is invalid; names the file and, when known, the line."""

    error_code = ErrorCode.POLICY_INVALID_FILE

    def __init__(
        self,
        problem: str,
        *,
        file: str | None,
        line: int | None = None,
        origin: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        problem = problem if len(problem) <= _MAX_PROBLEM_CHARS else problem[:497] + "..."
        merged: dict[str, Any] = {"problem": problem}
        if origin is not None:
            merged["origin"] = origin
        if file is not None:
            merged["file"] = file
        if line is not None:
            merged["line"] = line
        merged.update(details or {})
        location = _location(origin, file, line)
        super().__init__(f"{location}: {problem}" if location else problem, details=merged)
        self.problem = problem
        self.origin = origin
        self.file = file
        self.line = line


class PolicyFileTooLargeError(PolicyError):
    """A policy file is over the size cap; ``line`` is where the cap falls."""

    error_code = ErrorCode.POLICY_FILE_TOO_LARGE


class PolicyReadError(PolicyError):
    """A policy file cannot be read as UTF-8 text from inside its root."""


class FrontmatterError(PolicyError):
    """A SKILL.md has no YAML frontmatter, or it is not valid YAML or not a mapping."""


class SkillValidationError(PolicyError):
    """A SKILL.md frontmatter field breaks the Agent Skills rules."""


class McpConfigError(PolicyError):
    """A ``.mcp.json`` is not valid JSON or not the ``mcpServers`` shape."""


class UnknownVariableError(PolicyError):
    """A ``${VAR}`` reference names a variable missing from the allowed mapping."""


class RiskConfigError(PolicyError):
    """A tool-risk rule (pattern or level) given by the tenant or the session is invalid."""


class WorkingDirectoryError(PolicyError):
    """The working directory for the AGENTS.md walk is not inside the workspace root."""

    error_code = ErrorCode.POLICY_DENIED


class PolicyLoadError(PolicyError):
    """One load found one or more invalid inputs; ``errors`` holds each, in file order.

    The envelope takes the code of the first error, so a single oversized file still
    reports ``POLICY_FILE_TOO_LARGE``.
    """

    def __init__(self, errors: Sequence[PolicyError]) -> None:
        if not errors:
            raise ValueError("PolicyLoadError needs at least one error")
        self.errors: tuple[PolicyError, ...] = tuple(errors)
        first = self.errors[0]
        more = len(self.errors) - 1
        problem = first.message if more == 0 else f"{first.message} (and {more} more)"
        super().__init__(
            problem,
            file=None,
            details={"count": len(self.errors), "codes": ",".join(e.error_code for e in errors)},
        )

    def to_envelope(self, trace_id: str) -> ErrorEnvelope:
        """Describe the load on the wire with the first error's code."""
        envelope = super().to_envelope(trace_id)
        return envelope.model_copy(update={"error_code": self.errors[0].error_code})
