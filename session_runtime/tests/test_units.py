"""Pure logic without the CLI or Redis: event mapping, budgets, the circuit breaker, the
tool gate, settings as the operator writes them, the tenant policy tree."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from cephalon_contracts.events import (
    Action,
    ApprovalDecision,
    ApprovalRequest,
    Plan,
    ResponseDelta,
    RiskLevel,
    ToolCall,
    ToolResultSummary,
)
from cephalon_contracts.resources import Budgets
from cephalon_policy import parse_skill
from cephalon_runtime.approvals import (
    ApprovalBroker,
    ToolGate,
    policy_tool_name,
    summarise_arguments,
)
from cephalon_runtime.budgets import SessionUsage, TurnBudget, session_exhausted
from cephalon_runtime.errors import McpCircuitOpenError, McpError
from cephalon_runtime.events import EventMapper, plan_from_markdown
from cephalon_runtime.health import HealthServer
from cephalon_runtime.mcp_servers import (
    CircuitBreaker,
    CircuitState,
    McpSupervisor,
    looks_like_outage,
)
from cephalon_runtime.metrics import RuntimeMetrics
from cephalon_runtime.policy import PolicyManager, rebuild_tenant_tree
from cephalon_runtime.settings import McpServerSetting, McpSettings, RuntimeSettings

USER = "urn:cephalon:discord:duck:user:42"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ns(**kw: Any) -> SimpleNamespace:
    return SimpleNamespace(**kw)


# ---------------------------------------------------------------- event mapping


def mapper(clock: Clock | None = None) -> EventMapper:
    risks = {"ws-publish": RiskLevel.RESTRICTED, "bash": RiskLevel.ELEVATED}
    return EventMapper(
        risk_of=lambda tool: risks.get(tool, RiskLevel.SAFE),
        server_of=lambda tool: "ws" if tool.startswith("ws-") else None,
        clock=clock or Clock(),
    )


def test_deltas_are_numbered_and_messages_separated() -> None:
    m = mapper()
    out = []
    out += m.map("assistant.message_delta", ns(delta_content="Let me ", message_id="a"))
    out += m.map("assistant.message_delta", ns(delta_content="look.", message_id="a"))
    out += m.map("assistant.message", ns(content="Let me look.", message_id="a"))
    out += m.map("assistant.message_delta", ns(delta_content="Done.", message_id="b"))
    out += m.map("assistant.message_delta", ns(delta_content="", message_id="b"))
    assert out == [
        ResponseDelta(seq=0, text="Let me "),
        ResponseDelta(seq=1, text="look."),
        ResponseDelta(seq=2, text="\n\nDone."),
    ]
    assert m.text == "Let me look.\n\nDone."


def test_an_unstreamed_message_becomes_one_delta() -> None:
    m = mapper()
    assert m.map("assistant.message", ns(content="whole", message_id="x")) == [
        ResponseDelta(seq=0, text="whole")
    ]


def test_reasoning_is_dropped() -> None:
    m = mapper()
    assert m.map("assistant.reasoning_delta", ns(delta_content="hmm", reasoning_id="r")) == []
    assert m.map("assistant.reasoning", ns(content="hmm")) == []
    assert m.text == ""


def test_tool_call_and_result() -> None:
    clock = Clock()
    m = mapper(clock)
    start = m.map(
        "tool.execution_start",
        ns(tool_name="ws-publish", tool_call_id="c1", arguments={"branch": "x", "token": "s3"}),
    )
    assert start == [
        ToolCall(
            call_id="c1",
            tool="ws-publish",
            server="ws",
            risk=RiskLevel.RESTRICTED,
            arguments_summary='{"branch": "x", "token": "***"}',
        )
    ]
    clock.now += 0.25
    done = m.map(
        "tool.execution_complete",
        ns(tool_call_id="c1", success=True, result=ns(content="published\n to x"), error=None),
    )
    assert done == [
        ToolResultSummary(call_id="c1", ok=True, summary="published to x", duration_ms=250)
    ]
    assert m.finished_tool == ("c1", "ws-publish", True, "")


def test_refused_tool_result_carries_the_reason() -> None:
    m = mapper()
    m.map("tool.execution_start", ns(tool_name="bash", tool_call_id="c2", arguments={}))
    m.refusals["c2"] = "POLICY_APPROVAL_DENIED: bash was denied"
    (result,) = m.map(
        "tool.execution_complete", ns(tool_call_id="c2", success=False, result=None, error="no")
    )
    assert isinstance(result, ToolResultSummary)
    assert not result.ok and result.summary == "POLICY_APPROVAL_DENIED: bash was denied"


def test_a_refusal_decided_before_the_call_id_was_known() -> None:
    m = mapper()
    m.unmatched_refusals["bash"] = ["MCP_CIRCUIT_OPEN: down"]
    m.map("tool.execution_start", ns(tool_name="bash", tool_call_id="c9", arguments={}))
    (result,) = m.map("tool.execution_complete", ns(tool_call_id="c9", success=True))
    assert isinstance(result, ToolResultSummary)
    assert not result.ok and result.summary == "MCP_CIRCUIT_OPEN: down"


def test_outages_and_tool_errors_are_told_apart() -> None:
    assert looks_like_outage("MCP error -32001: Request timed out")
    assert looks_like_outage("fetch failed: connect ECONNREFUSED 127.0.0.1:8931")
    assert not looks_like_outage("Error executing tool read_file: no such file")


def test_intent_plan_usage_error_idle() -> None:
    m = mapper()
    assert m.map("assistant.intent", ns(intent="Reading the README")) == [
        Action(intent="Reading the README")
    ]
    assert m.map(
        "tool.execution_start",
        ns(tool_name="report_intent", tool_call_id="i1", arguments={"intent": "Exploring"}),
    ) == [Action(intent="Exploring")]
    assert m.map("tool.execution_complete", ns(tool_call_id="i1", success=True)) == []
    (plan,) = m.map(
        "session.todos_changed",
        ns(todos=[ns(title="read", status="done"), {"content": "fix", "status": "in_progress"}]),
    )
    assert isinstance(plan, Plan)
    assert [(s.title, s.status.value) for s in plan.steps] == [
        ("read", "done"),
        ("fix", "in_progress"),
    ]
    assert m.map("assistant.usage", ns(input_tokens=10, output_tokens=3)) == []
    assert m.usage == (10, 3)
    m.map("session.error", ns(error_type="query", status_code=503, message="overloaded"))
    assert m.failure is not None and m.failure.status_code == 503
    m.map("session.idle", ns(aborted=True))
    assert m.idle and m.aborted


def test_plan_file_items_become_steps() -> None:
    text = "# Plan\n\n1. Read the code\n- [x] write tests\n- [~] fix the bug\n* [ ] ship\nprose\n"
    assert plan_from_markdown(text) == [
        {"title": "Read the code", "status": "pending"},
        {"title": "write tests", "status": "done"},
        {"title": "fix the bug", "status": "in_progress"},
        {"title": "ship", "status": "pending"},
    ]
    (plan,) = mapper().map("session.plan_changed", {"todos": plan_from_markdown(text)})
    assert isinstance(plan, Plan) and len(plan.steps) == 4


# ---------------------------------------------------------------- budgets


def test_turn_budget_tokens_tool_calls_and_clock() -> None:
    clock = Clock()
    session = SessionUsage()
    limits = Budgets(turn_seconds=10, turn_tool_calls=2, turn_tokens=100, session_tokens=1000)
    budget = TurnBudget(limits, session, clock=clock)
    assert budget.exceeded() is None
    assert budget.charge_tool_call() is None and budget.charge_tool_call() is None
    over = budget.charge_tool_call()
    assert over is not None and over.budget == "turn_tool_calls" and budget.tool_calls == 2
    budget.add_usage(60, 41)
    error = budget.exceeded()
    assert error is not None and error.budget == "turn_tokens"
    assert error.code == "PROVIDER_BUDGET_EXCEEDED"
    assert session.total == 101
    clock.now += 10
    timeout = TurnBudget(limits, session, clock=clock)
    clock.now += 10
    error = timeout.exceeded()
    assert error is not None and error.code == "TIMEOUT_TURN"


def test_session_budget() -> None:
    limits = Budgets(session_tokens=100)
    assert session_exhausted(limits, SessionUsage(50, 49)) is None
    error = session_exhausted(limits, SessionUsage(50, 50))
    assert error is not None and error.budget == "session_tokens"


# ---------------------------------------------------------------- circuit breaker


def test_circuit_opens_half_opens_and_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, reset_seconds=30, clock=clock)
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN and not breaker.allow()
    clock.now += 30
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.allow(), "one trial call"
    assert not breaker.allow(), "only one"
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN, "a failed trial re-opens at once"
    clock.now += 30
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED and breaker.failures == 0


def supervisor(clock: Clock) -> McpSupervisor:
    return McpSupervisor(
        McpSettings(
            servers=[
                McpServerSetting(name="ws", url="http://127.0.0.1:1/mcp"),
                McpServerSetting(name="ws-extra", url="http://127.0.0.1:2/mcp"),
            ],
            tool_timeouts={"ws-sleep": 2.5, "ws-extra": 90},
            tool_timeout_seconds=30,
            failure_threshold=2,
        ),
        clock=clock,
    )


def test_supervisor_names_timeouts_and_gate() -> None:
    clock = Clock()
    s = supervisor(clock)
    assert s.split_tool("ws-extra-run") == ("ws-extra", "run")
    assert s.split_tool("ws-read_file") == ("ws", "read_file")
    assert s.split_tool("bash") is None
    assert s.timeout_for("ws", "sleep") == 2.5
    assert s.timeout_for("ws", "read_file") == 30
    assert s.timeout_for("ws-extra", "run") == 90
    assert s.sdk_configs()["ws"] == {
        "type": "http",
        "url": "http://127.0.0.1:1/mcp",
        "tools": ["*"],
        "timeout": 30_000,
    }
    assert s.gate("ws", "read_file") is None
    s.record("ws", False, "boom")
    s.record("ws", False, "boom")
    error = s.gate("ws", "read_file")
    assert isinstance(error, McpCircuitOpenError)
    assert "'ws'" in error.message and "'read_file'" in error.message
    assert error.to_envelope("0" * 32).details == {
        "server": "ws",
        "tool": "read_file",
        "reason": "boom",
    }
    assert s.health() == {"ws": False, "ws-extra": False}


async def test_probe_of_a_dead_server_counts_as_failure() -> None:
    clock = Clock()
    s = supervisor(clock)
    await s.probe("ws")
    await s.probe("ws")
    state = s.servers["ws"]
    assert not state.healthy and state.breaker.state is CircuitState.OPEN
    assert "ConnectError" in state.last_error or "connect" in state.last_error.lower()
    with pytest.raises(McpError, match="'ws'.*'read_file'"):
        await s.call_tool("ws", "read_file", {"path": "x"})


# ---------------------------------------------------------------- the tool gate


def gate(
    risk: RiskLevel,
    published: list[ApprovalRequest],
    broker: ApprovalBroker,
    *,
    calls_left: int = 10,
    mcp: McpError | None = None,
) -> ToolGate:
    remaining = [calls_left]

    def charge() -> Any:
        from cephalon_runtime.errors import BudgetExceededError

        if remaining[0] == 0:
            return BudgetExceededError("turn_tool_calls", calls_left, calls_left + 1)
        remaining[0] -= 1
        return None

    async def publish(request: ApprovalRequest) -> None:
        published.append(request)

    return ToolGate(
        risk_of=lambda tool: risk,
        broker=broker,
        publish=publish,
        timeout_seconds=0.3,
        charge_tool_call=charge,
        mcp_gate=lambda tool: mcp,
    )


async def test_gate_safe_and_elevated_run_without_asking() -> None:
    published: list[ApprovalRequest] = []
    for risk in (RiskLevel.SAFE, RiskLevel.ELEVATED):
        decision = await gate(risk, published, ApprovalBroker()).decide("view", {}, "c1")
        assert decision.allow and decision.risk is risk
    assert published == []


async def test_gate_restricted_waits_for_its_own_decision() -> None:
    published: list[ApprovalRequest] = []
    broker = ApprovalBroker()
    g = gate(RiskLevel.RESTRICTED, published, broker)
    task = asyncio.create_task(g.decide("deploy", {"env": "prod", "password": "x"}, "c1"))
    while not published:
        await asyncio.sleep(0)
    (request,) = published
    assert request.arguments_summary == '{"env": "prod", "password": "***"}'
    assert not broker.decide(
        ApprovalDecision(request_id="apr-other", approved=True, decided_by=USER)
    )
    assert broker.decide(
        ApprovalDecision(request_id=request.request_id, approved=True, decided_by=USER)
    )
    decision = await task
    assert decision.allow
    assert await g.decide("deploy", {}, "c1") is decision, "one decision per call id"
    assert broker.waiting == {}


async def test_gate_restricted_denied_and_timed_out() -> None:
    published: list[ApprovalRequest] = []
    broker = ApprovalBroker()
    g = gate(RiskLevel.RESTRICTED, published, broker)
    task = asyncio.create_task(g.decide("deploy", {}, "c1"))
    while not published:
        await asyncio.sleep(0)
    broker.decide(
        ApprovalDecision(
            request_id=published[0].request_id, approved=False, decided_by=USER, reason="no"
        )
    )
    denied = await task
    assert not denied.allow and denied.error is not None
    assert denied.error.code == "POLICY_APPROVAL_DENIED" and "no" in denied.reason
    timed_out = await g.decide("deploy", {}, "c2")
    assert not timed_out.allow and timed_out.error is not None
    assert timed_out.error.code == "TIMEOUT_APPROVAL"


async def test_gate_budget_and_circuit_come_first() -> None:
    published: list[ApprovalRequest] = []
    over = await gate(RiskLevel.SAFE, published, ApprovalBroker(), calls_left=0).decide(
        "view", {}, "c1"
    )
    assert not over.allow and over.stop_turn
    down = McpCircuitOpenError("ws", "read")
    refused = await gate(RiskLevel.RESTRICTED, published, ApprovalBroker(), mcp=down).decide(
        "ws-read", {}, "c1"
    )
    assert not refused.allow and refused.error is down and not refused.stop_turn
    assert published == []


async def test_a_skill_is_rated_by_its_name() -> None:
    levels = {"skill:deploy": RiskLevel.RESTRICTED}
    published: list[ApprovalRequest] = []
    g = gate(RiskLevel.SAFE, published, ApprovalBroker())
    g.risk_of = lambda tool: levels.get(tool, RiskLevel.SAFE)
    assert policy_tool_name("skill", {"skill": "deploy"}) == "skill:deploy"
    assert policy_tool_name("bash", {"skill": "deploy"}) == "bash"
    assert (await g.decide("skill", {"skill": "review"}, "c1")).allow
    decided = await g.decide("skill", {"skill": "deploy"}, "c2")
    assert not decided.allow and decided.risk is RiskLevel.RESTRICTED
    assert published and published[0].tool == "skill:deploy"


def test_argument_summaries_are_redacted_and_short() -> None:
    text = summarise_arguments(
        {"cmd": "curl -H 'Authorization: Bearer abc.def' x", "api_key": "k", "n": [1, 2]}
    )
    assert "abc.def" not in text and '"api_key": "***"' in text
    assert len(summarise_arguments({"x": "y" * 1000})) == 300


# ---------------------------------------------------------------- settings and policy


def test_settings_from_the_operator_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "CEPHALON_SESSION__ID": "s-1",
        "CEPHALON_SESSION__PROVIDER": "discord",
        "CEPHALON_SESSION__TENANT": "duck",
        "CEPHALON_SESSION__OWNER": "123",
        "CEPHALON_TOPIC_ROOT": "acme",
        "CEPHALON_REDIS__URL": "redis://redis:6379/0",
        "CEPHALON_REDIS__USERNAME_FILE": "/var/run/cephalon/session/redis-username",
        "CEPHALON_MODEL__BASE_URL": "http://mg.cephalon-system.svc:8080/v1",
        "CEPHALON_MODEL__DEFAULT": "gpt-4.1",
        "CEPHALON_MODEL__ALLOWED": '["gpt-4.1", "gpt-4.1-mini"]',
        "CEPHALON_MCP__SERVERS": json.dumps(
            [
                {
                    "name": "git",
                    "url": "http://127.0.0.1:8931/mcp",
                    "risk": "elevated",
                    "tools": {"push": "restricted"},
                }
            ]
        ),
        "CEPHALON_WORKSPACE__PATH": "/workspace",
        "CEPHALON_POLICY__TENANT_DIR": "/etc/cephalon/policy",
        "CEPHALON_BUDGETS": '{"turn_seconds":900,"turn_tool_calls":50,"turn_tokens":200000,'
        '"session_tokens":2000000,"tenant_tokens_per_day":null}',
        "CEPHALON_APPROVALS__TIMEOUT_SECONDS": "300",
        "CEPHALON_HEALTH_PORT": "8080",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = RuntimeSettings()
    assert settings.session.id == "s-1" and settings.topic_root == "acme"
    assert settings.model.allowed == ["gpt-4.1", "gpt-4.1-mini"]
    (server,) = settings.mcp.servers
    assert server.risk is RiskLevel.ELEVATED and server.tools == {"push": RiskLevel.RESTRICTED}
    assert settings.budgets.turn_tool_calls == 50
    assert settings.approvals.timeout_seconds == 300
    assert settings.policy.tenant_dir == Path("/etc/cephalon/policy")


def test_tenant_configmap_becomes_a_policy_tree(tmp_path: Path) -> None:
    configmap = tmp_path / "cm"
    configmap.mkdir()
    (configmap / "RULES.md").write_text("Tenant rule.\n")
    (configmap / "AGENTS.md").write_text("Tenant guidance.\n")
    (configmap / "skill.deploy.md").write_text(
        "---\nname: deploy\ndescription: Deploy things.\n---\nSteps.\n"
    )
    (configmap / "..data").mkdir()
    tree = tmp_path / "tree"
    rebuild_tenant_tree(configmap, tree)
    assert sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()) == [
        "AGENTS.md",
        "RULES.md",
        "skills/deploy/SKILL.md",
    ]


def test_policy_manager_keeps_the_last_good_snapshot(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "AGENTS.md").write_text("Use pytest.\n")
    tenant = tmp_path / "cm"
    tenant.mkdir()
    (tenant / "RULES.md").write_text("Never push to main.\n")
    settings = RuntimeSettings(
        workspace={"path": workspace},
        policy={"tenant_dir": tenant, "defaults_dir": None},
        mcp={"servers": [{"name": "git", "url": "u", "tools": {"push": "restricted"}}]},
    )
    manager = PolicyManager(settings)
    (tenant / "skill.deploy.md").write_text(
        "---\nname: deploy\ndescription: 'Deploy: carefully.'\nallowed-tools: Bash(make:*)\n"
        "---\nSteps.\n"
    )
    assert manager.reload().ok
    good = manager.snapshot.hash
    written = (manager.skills_dir / "deploy" / "SKILL.md").read_text()
    assert parse_skill("tenant", "skills/deploy/SKILL.md", written).description == (
        "Deploy: carefully."
    ), "the engine's copy of a skill reads back the same"
    assert manager.risk_of("git-push") is RiskLevel.RESTRICTED
    text = manager.system_message()
    assert text.index("Use pytest.") < text.index("Never push to main."), "tenant rules last"
    (workspace / ".mcp.json").write_text("{not json")
    result = manager.reload()
    assert not result.ok and manager.snapshot.hash == good
    assert ".mcp.json:1" in result.errors[0].message
    assert not manager.tenant_changed()
    (tenant / "RULES.md").write_text("Never push to main or release.\n")
    assert manager.tenant_changed()
    manager.close()


def test_policy_manager_falls_back_when_the_first_load_fails(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / "skills" / "Bad").mkdir(parents=True)
    (workspace / "skills" / "Bad" / "SKILL.md").write_text("no frontmatter\n")
    settings = RuntimeSettings(
        workspace={"path": workspace}, policy={"tenant_dir": None, "defaults_dir": None}
    )
    manager = PolicyManager(settings)
    result = manager.reload()
    assert not result.ok and "skills/Bad/SKILL.md" in result.errors[0].message
    assert manager.snapshot.hash.startswith("sha256:"), "never without policy"
    assert "Never reveal" in manager.system_message(), "hard safety always applies"


def test_health_responses() -> None:
    ready = [False]
    server = HealthServer(
        ready=lambda: ready[0], registry=RuntimeMetrics().registry, host="127.0.0.1", port=0
    )
    assert server.respond("/healthz")[0] == 200
    assert server.respond("/readyz")[0] == 503
    ready[0] = True
    assert server.respond("/readyz")[0] == 200
    status, _, body = server.respond("/metrics")
    assert status == 200 and b"cephalon_runtime_turns" in body
    assert server.respond("/nope")[0] == 404
