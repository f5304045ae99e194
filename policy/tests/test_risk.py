"""Tool risk: defaults table, tenant catalogue, session overrides, specificity."""

from __future__ import annotations

import pytest

from cephalon_contracts.events import RiskLevel
from cephalon_contracts.resources import McpServerSpec, McpTool
from cephalon_policy import (
    DEFAULT_RISK_TABLE,
    FALLBACK_RISK,
    RiskConfig,
    RiskConfigError,
    RiskLayer,
    RiskRule,
    resolve_risk,
)
from cephalon_policy.risk import default_rules, max_risk, session_rules, tenant_rules

SAFE, ELEVATED, RESTRICTED = RiskLevel.SAFE, RiskLevel.ELEVATED, RiskLevel.RESTRICTED


def rules(
    config: RiskConfig | None = None, session: dict[str, RiskLevel] | None = None
) -> tuple[RiskRule, ...]:
    return (*session_rules(session or {}), *tenant_rules(config or RiskConfig()), *default_rules())


@pytest.mark.parametrize(
    ("tool", "level"),
    [
        ("view", SAFE),
        ("grep", SAFE),
        ("skill:code-review", SAFE),
        ("bash", ELEVATED),
        ("shell", ELEVATED),
        ("edit", ELEVATED),
        ("write", ELEVATED),
        ("web_fetch", ELEVATED),
        ("github-create_issue", FALLBACK_RISK),
        ("something_new", FALLBACK_RISK),
    ],
)
def test_defaults(tool: str, level: RiskLevel) -> None:
    assert resolve_risk(default_rules(), tool) is level


def test_defaults_restrict_nothing_and_have_no_duplicates() -> None:
    patterns = [p for p, _ in DEFAULT_RISK_TABLE]
    assert len(patterns) == len(set(patterns))
    assert RESTRICTED not in {level for _, level in DEFAULT_RISK_TABLE}


def test_tenant_catalogue_rates_servers_and_tools() -> None:
    deploy = McpServerSpec(
        name="deploy",
        image="deploy:1",
        port=8080,
        risk=ELEVATED,
        tools=[McpTool(name="start", risk=RESTRICTED), McpTool(name="status", risk=SAFE)],
    )
    config = RiskConfig(mcp_servers=[deploy])
    assert resolve_risk(rules(config), "deploy-start") is RESTRICTED
    assert resolve_risk(rules(config), "deploy-status") is SAFE
    assert resolve_risk(rules(config), "deploy-rollback") is ELEVATED


def test_tenant_rules_override_defaults_and_the_catalogue() -> None:
    deploy = McpServerSpec(
        name="deploy", image="d", port=8080, tools=[McpTool(name="start", risk=SAFE)]
    )
    config = RiskConfig(
        rules={"bash": RESTRICTED, "deploy-start": RESTRICTED, "skill:*": ELEVATED},
        mcp_servers=[deploy],
    )
    assert resolve_risk(rules(config), "bash") is RESTRICTED
    assert resolve_risk(rules(config), "deploy-start") is RESTRICTED
    assert resolve_risk(rules(config), "skill:anything") is ELEVATED
    assert resolve_risk(rules(config), "view") is SAFE  # tenant silent, defaults decide


def test_most_specific_rule_wins_within_a_layer() -> None:
    config = RiskConfig(
        rules={"gh-*": SAFE, "gh-create_*": RESTRICTED, "gh-create_issue": ELEVATED, "*": SAFE}
    )
    assert resolve_risk(rules(config), "gh-list") is SAFE
    assert resolve_risk(rules(config), "gh-create_pr") is RESTRICTED
    assert resolve_risk(rules(config), "gh-create_issue") is ELEVATED
    assert resolve_risk(rules(config), "bash") is SAFE  # tenant's "*" beats the defaults


def test_rule_order_never_matters() -> None:
    config = RiskConfig(rules={"a*": SAFE, "*b": RESTRICTED})
    forward = rules(config)
    assert resolve_risk(forward, "ab") is resolve_risk(tuple(reversed(forward)), "ab")
    assert resolve_risk(forward, "ab") is RESTRICTED  # equally specific: the stricter wins


def test_session_overrides_may_only_raise_by_default() -> None:
    session = {"bash": RESTRICTED, "edit": SAFE, "view": ELEVATED}
    both = rules(session=session)
    assert resolve_risk(both, "bash") is RESTRICTED
    assert resolve_risk(both, "edit") is ELEVATED  # lowering ignored
    assert resolve_risk(both, "view") is ELEVATED


def test_a_tenant_may_let_sessions_lower_levels() -> None:
    config = RiskConfig(rules={"deploy-*": RESTRICTED}, session_may_lower_risk=True)
    both = rules(config, session={"deploy-status": SAFE})
    assert resolve_risk(both, "deploy-status", session_may_lower_risk=True) is SAFE
    assert resolve_risk(both, "deploy-start", session_may_lower_risk=True) is RESTRICTED
    assert resolve_risk(both, "deploy-status") is RESTRICTED


def test_session_rule_layers_are_applied_on_top_not_by_specificity() -> None:
    # a broad session rule still raises a tool the tenant rated exactly
    both = rules(RiskConfig(rules={"gh-list": SAFE}), session={"gh-*": ELEVATED})
    assert resolve_risk(both, "gh-list") is ELEVATED


@pytest.mark.parametrize("pattern", ["", "has space", "semi;colon", "x" * 201, "a?b", "[ab]"])
def test_bad_patterns_are_rejected_naming_the_source(pattern: str) -> None:
    with pytest.raises(RiskConfigError) as caught:
        tenant_rules(RiskConfig(rules={pattern: SAFE}))
    assert caught.value.file == "tenant risk rules" and caught.value.origin == "tenant"


def test_bad_levels_are_rejected() -> None:
    with pytest.raises(RiskConfigError) as caught:
        session_rules({"bash": "yolo"})  # type: ignore[dict-item]
    assert "safe, elevated, restricted" in caught.value.problem
    assert caught.value.origin == "session"


def test_levels_given_as_strings_are_accepted() -> None:
    (rule,) = tenant_rules(RiskConfig(rules={"bash": "restricted"}))  # type: ignore[dict-item]
    assert rule.risk is RESTRICTED and rule.layer is RiskLayer.TENANT


def test_only_star_is_special_in_patterns() -> None:
    rule = RiskRule(layer=RiskLayer.TENANT, pattern="a.b*", risk=SAFE)
    assert rule.matches("a.bc") and rule.matches("a.b") and not rule.matches("axbc")
    assert RiskRule(layer=RiskLayer.TENANT, pattern="*", risk=SAFE).matches("x\ny")


def test_max_risk() -> None:
    assert max_risk(SAFE, RESTRICTED) is RESTRICTED
    assert max_risk(ELEVATED, SAFE) is ELEVATED
