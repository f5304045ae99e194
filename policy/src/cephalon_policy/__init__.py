"""Loading and merging RULES.md, AGENTS.md, skills and MCP config into one policy snapshot.

The runtime's calls::

    snapshot = load_snapshot(workspace_dir, cwd=..., tenant=..., defaults=...,
                             session=SessionOverrides(...), risk=RiskConfig(...),
                             variables={...})
    snapshot.hash                 # "sha256:<64 hex>", recorded in AgentSession status
    snapshot.instructions()       # the system-message text, in precedence order
    snapshot.risk_of("bash")      # RiskLevel of a tool the model calls
    holder.reload(lambda: load_snapshot(...))   # keeps the last good snapshot

Everything except :mod:`.reading` is pure: :func:`build_snapshot` takes in-memory
:class:`PolicyFiles` and returns the same snapshot for the same content.
"""

from .errors import (
    FrontmatterError,
    McpConfigError,
    PolicyError,
    PolicyFileTooLargeError,
    PolicyLoadError,
    PolicyReadError,
    RiskConfigError,
    SkillValidationError,
    UnknownVariableError,
    WorkingDirectoryError,
)
from .files import MAX_POLICY_FILE_BYTES, PolicyFiles
from .holder import ReloadResult, SnapshotHolder
from .instructions import AGENTS_FILENAMES, select_agents_files
from .mcp_config import McpServer, expand_variables, parse_mcp_config
from .merge import HARD_SAFETY_RULES, PolicyInputs, SessionOverrides, build_snapshot
from .reading import load_snapshot, read_policy_files
from .risk import DEFAULT_RISK_TABLE, FALLBACK_RISK, RiskConfig, RiskLayer, RiskRule, resolve_risk
from .skills import SKILL_ROOTS, Skill, parse_skill
from .snapshot import InstructionSection, PolicySnapshot, SectionKind, SourceFile

__all__ = [
    "AGENTS_FILENAMES",
    "DEFAULT_RISK_TABLE",
    "FALLBACK_RISK",
    "HARD_SAFETY_RULES",
    "MAX_POLICY_FILE_BYTES",
    "SKILL_ROOTS",
    "FrontmatterError",
    "InstructionSection",
    "McpConfigError",
    "McpServer",
    "PolicyError",
    "PolicyFileTooLargeError",
    "PolicyFiles",
    "PolicyInputs",
    "PolicyLoadError",
    "PolicyReadError",
    "PolicySnapshot",
    "ReloadResult",
    "RiskConfig",
    "RiskConfigError",
    "RiskLayer",
    "RiskRule",
    "SectionKind",
    "SessionOverrides",
    "Skill",
    "SkillValidationError",
    "SnapshotHolder",
    "SourceFile",
    "UnknownVariableError",
    "WorkingDirectoryError",
    "build_snapshot",
    "expand_variables",
    "load_snapshot",
    "parse_mcp_config",
    "parse_skill",
    "read_policy_files",
    "resolve_risk",
    "select_agents_files",
]
