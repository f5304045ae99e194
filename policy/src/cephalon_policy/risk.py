"""Tool risk: which tools run freely, which are reported, which wait for a person.

Every tool the agent can call has a :class:`~cephalon_contracts.events.RiskLevel`:

- ``safe`` runs;
- ``elevated`` runs and is reported in the session channel;
- ``restricted`` waits for an approval button (no decision in time means deny).

Tool names are the ones the model sees: the Copilot CLI's built-in tools (``bash``,
``edit``...) and its permission kinds (``shell``, ``write``, ``read``, ``url``,
``mcp``), MCP tools as ``<server>-<tool>``, skills as ``skill:<name>``.

Rules are ``pattern → level`` where ``*`` in a pattern matches any run of characters
and nothing else is special. Resolution, highest layer first:

1. the **session** layer (Discord commands) — by default it may only *raise* a tool's
   level; a tenant that sets ``session_may_lower_risk`` lets it lower levels too;
2. the **tenant** layer — the ProviderTenant's MCP catalogue (``<server>-*`` from the
   server's level, ``<server>-<tool>`` from each tool's), then the tenant's explicit
   rules, which win over the catalogue on the same pattern;
3. the **defaults** table :data:`DEFAULT_RISK_TABLE`;
4. :data:`FALLBACK_RISK` (``elevated``) for a tool nobody rated — an MCP tool from a
   workspace ``.mcp.json``, a tool a new CLI version adds.

Within one layer the most specific rule wins: an exact name before any pattern, then
the pattern with more literal characters; between equally specific patterns the
stricter level wins. The answer never depends on the order rules were written in.

Workspace files cannot set risk at all: a repository does not get to declare its own
tools safe.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from cephalon_contracts.events import RiskLevel
from cephalon_contracts.resources import McpServerSpec

from .errors import RiskConfigError

#: The built-in defaults, lowest layer. Reading and planning is safe; anything that
#: changes files, runs commands or reaches the network is elevated. Nothing is
#: restricted by default: which actions need a person's click is the tenant's call.
DEFAULT_RISK_TABLE: tuple[tuple[str, RiskLevel], ...] = (
    # reading the workspace
    ("view", RiskLevel.SAFE),
    ("read", RiskLevel.SAFE),
    ("glob", RiskLevel.SAFE),
    ("grep", RiskLevel.SAFE),
    ("rg", RiskLevel.SAFE),
    ("read_bash", RiskLevel.SAFE),
    ("list_bash", RiskLevel.SAFE),
    # planning and reporting
    ("report_intent", RiskLevel.SAFE),
    ("update_todo", RiskLevel.SAFE),
    ("think", RiskLevel.SAFE),
    ("fetch_copilot_cli_documentation", RiskLevel.SAFE),
    # skills are instructions; the tools a skill uses carry their own level
    ("skill:*", RiskLevel.SAFE),
    # running commands
    ("bash", RiskLevel.ELEVATED),
    ("shell", RiskLevel.ELEVATED),
    ("powershell", RiskLevel.ELEVATED),
    ("write_bash", RiskLevel.ELEVATED),
    ("stop_bash", RiskLevel.ELEVATED),
    ("task", RiskLevel.ELEVATED),
    # changing files
    ("write", RiskLevel.ELEVATED),
    ("edit", RiskLevel.ELEVATED),
    ("create", RiskLevel.ELEVATED),
    ("str_replace_editor", RiskLevel.ELEVATED),
    ("apply_patch", RiskLevel.ELEVATED),
    # reaching the network
    ("url", RiskLevel.ELEVATED),
    ("web_fetch", RiskLevel.ELEVATED),
    ("mcp", RiskLevel.ELEVATED),
)

#: The level of a tool no rule matches.
FALLBACK_RISK = RiskLevel.ELEVATED

_PATTERN = re.compile(r"^[A-Za-z0-9_.:*/-]{1,200}$")
_ORDER = {RiskLevel.SAFE: 0, RiskLevel.ELEVATED: 1, RiskLevel.RESTRICTED: 2}


class RiskLayer(StrEnum):
    """Where a rule came from, highest precedence first."""

    SESSION = "session"
    TENANT = "tenant"
    DEFAULTS = "defaults"


_LAYER_ORDER = (RiskLayer.SESSION, RiskLayer.TENANT, RiskLayer.DEFAULTS)


class RiskRule(BaseModel):
    """``pattern`` (``*`` = any characters) gets ``risk`` in ``layer``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    layer: RiskLayer
    pattern: str
    risk: RiskLevel

    def matches(self, tool: str) -> bool:
        """Whether ``tool`` is named by this rule's pattern."""
        if "*" not in self.pattern:
            return tool == self.pattern
        regex = ".*".join(re.escape(part) for part in self.pattern.split("*"))
        return re.fullmatch(regex, tool, flags=re.DOTALL) is not None

    @property
    def specificity(self) -> tuple[int, int]:
        """Higher is more specific: exact names first, then more literal characters."""
        return (0 if "*" in self.pattern else 1, len(self.pattern.replace("*", "")))


@dataclass(frozen=True)
class RiskConfig:
    """The tenant's say on tool risk (from its ProviderTenant).

    ``rules`` maps patterns to levels; ``mcp_servers`` is the tenant's MCP catalogue,
    whose per-server and per-tool levels become rules; ``session_may_lower_risk`` lets
    session overrides lower a level (off by default).
    """

    rules: Mapping[str, RiskLevel] = field(default_factory=dict)
    mcp_servers: Sequence[McpServerSpec] = ()
    session_may_lower_risk: bool = False


def max_risk(a: RiskLevel, b: RiskLevel) -> RiskLevel:
    """The stricter of two levels."""
    return a if _ORDER[a] >= _ORDER[b] else b


def _checked(layer: RiskLayer, pattern: str, risk: object, source: str) -> RiskRule:
    if not _PATTERN.fullmatch(pattern):
        raise RiskConfigError(
            f"tool pattern {pattern!r} may only use letters, digits, '_', '.', ':', '/', "
            "'-' and '*' (at most 200 characters)",
            origin=layer.value,
            file=source,
        )
    try:
        level = risk if isinstance(risk, RiskLevel) else RiskLevel(str(risk))
    except ValueError as e:
        raise RiskConfigError(
            f"risk of {pattern!r} must be one of safe, elevated, restricted; got {risk!r}",
            origin=layer.value,
            file=source,
        ) from e
    return RiskRule(layer=layer, pattern=pattern, risk=level)


def default_rules() -> tuple[RiskRule, ...]:
    """The defaults table as rules, sorted by pattern like the other layers."""
    return tuple(
        RiskRule(layer=RiskLayer.DEFAULTS, pattern=p, risk=r) for p, r in sorted(DEFAULT_RISK_TABLE)
    )


def tenant_rules(config: RiskConfig) -> tuple[RiskRule, ...]:
    """The tenant layer: MCP catalogue first, explicit rules override the same pattern."""
    by_pattern: dict[str, RiskRule] = {}
    for server in config.mcp_servers:
        catalogue = f"ProviderTenant mcpServers[{server.name}]"
        by_pattern[f"{server.name}-*"] = _checked(
            RiskLayer.TENANT, f"{server.name}-*", server.risk, catalogue
        )
        for tool in server.tools:
            pattern = f"{server.name}-{tool.name}"
            by_pattern[pattern] = _checked(RiskLayer.TENANT, pattern, tool.risk, catalogue)
    for pattern, risk in config.rules.items():
        by_pattern[pattern] = _checked(RiskLayer.TENANT, pattern, risk, "tenant risk rules")
    return tuple(sorted(by_pattern.values(), key=lambda r: r.pattern))


def session_rules(overrides: Mapping[str, RiskLevel]) -> tuple[RiskRule, ...]:
    """The session layer from the session's overrides."""
    rules = (_checked(RiskLayer.SESSION, p, r, "session overrides") for p, r in overrides.items())
    return tuple(sorted(rules, key=lambda r: r.pattern))


def _best(rules: Iterable[RiskRule], tool: str) -> RiskRule | None:
    matching = [r for r in rules if r.matches(tool)]
    if not matching:
        return None
    # most specific first; among equally specific ones the stricter level, then the
    # pattern text only so that the chosen rule (not just its level) is deterministic
    return min(
        matching,
        key=lambda r: (-r.specificity[0], -r.specificity[1], -_ORDER[r.risk], r.pattern),
    )


def resolve_risk(
    rules: Sequence[RiskRule], tool: str, *, session_may_lower_risk: bool = False
) -> RiskLevel:
    """The level of ``tool`` under ``rules`` (any layers, any order).

    The session layer is applied on top of what the lower layers decide: it replaces
    that level when the tenant allows lowering, and can only raise it otherwise.
    """
    base: RiskLevel | None = None
    for layer in _LAYER_ORDER[1:]:
        rule = _best((r for r in rules if r.layer is layer), tool)
        if rule is not None:
            base = rule.risk
            break
    level = base if base is not None else FALLBACK_RISK
    session = _best((r for r in rules if r.layer is RiskLayer.SESSION), tool)
    if session is None:
        return level
    return session.risk if session_may_lower_risk else max_risk(session.risk, level)
