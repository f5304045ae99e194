"""The environment the operator gives each component is what that component reads.

The operator builds the access-layer Deployments and the session pod; each component
parses its settings from that environment. A renamed setting on either side would only
show in a cluster, so this test feeds the builders' env to the real settings classes.
"""

from __future__ import annotations

from typing import Any

import pytest

from cephalon_contracts.resources import AgentSessionSpec, McpServerSpec, ProviderTenantSpec
from cephalon_gateway.discord_access.settings import GatewaySettings as DiscordGatewaySettings
from cephalon_gateway.model_access.settings import GatewaySettings
from cephalon_operator.builders.session import SessionContext, build_session_pod
from cephalon_operator.builders.tenant import (
    TenantContext,
    build_gateway_deployment,
    build_model_gateway_deployment,
)
from cephalon_operator.settings import DiscordEndpoints, OperatorSettings
from cephalon_runtime.settings import RuntimeSettings

TENANT = ProviderTenantSpec.model_validate(
    {
        "provider": "discord",
        "tenant": "duck",
        "credentialsSecretRef": {"name": "c"},
        "models": {
            "default": "gpt-4.1",
            "allowed": ["gpt-4.1", "gpt-4.1-mini"],
            "upstream": {"kind": "openai", "baseUrl": "https://models.example/v1"},
        },
        "budgets": {"sessionTokens": 5000, "tenantTokensPerDay": 90000},
    }
)


def _env(deployment: dict[str, Any]) -> dict[str, str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"]}


def test_model_gateway_reads_what_the_operator_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = TenantContext("discord-duck", "uid", TENANT, OperatorSettings())
    for name, value in _env(build_model_gateway_deployment(ctx)).items():
        monkeypatch.setenv(name, value)
    settings = GatewaySettings()
    dumped = settings.model_dump()
    assert dumped["provider"] == "discord" and dumped["tenant"] == "duck"
    assert dumped["model"]["default"] == "gpt-4.1"
    assert dumped["model"]["allowed"] == ["gpt-4.1", "gpt-4.1-mini"]
    assert dumped["budget"]["session_tokens"] == 5000
    assert dumped["budget"]["tenant_tokens_per_day"] == 90000


def test_session_runtime_reads_what_the_operator_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = AgentSessionSpec.model_validate(
        {
            "provider": "discord",
            "tenant": "duck",
            "owner": {"id": "42", "name": "ada"},
            "conversation": {"channel": "7"},
            "profile": {"model": "gpt-4.1-mini"},
        }
    )
    tenant = TENANT.model_copy(
        update={"mcp_servers": [McpServerSpec(name="git", image="x", port=8701)]}
    )
    pod = build_session_pod(SessionContext("s-1", "ns", "uid", spec, tenant, OperatorSettings()))
    for item in pod["spec"]["containers"][0]["env"]:
        if "value" in item:  # valueFrom entries are filled in by the kubelet
            monkeypatch.setenv(item["name"], item["value"])
    settings = RuntimeSettings()
    assert settings.session.id == "s-1" and settings.session.tenant == "duck"
    assert settings.model.default == "gpt-4.1-mini"
    assert settings.model.allowed == ["gpt-4.1", "gpt-4.1-mini"]
    assert [server.name for server in settings.mcp.servers] == ["git"]
    assert settings.budgets.session_tokens == 5000
    assert settings.attachments.max_bytes == 8 * 1024 * 1024
    assert str(settings.redis.password_file) == "/var/run/cephalon/session/redis-password"


def test_discord_gateway_reads_what_the_operator_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = OperatorSettings(
        discord=DiscordEndpoints(
            api_base="http://127.0.0.1:9/api/v10", gateway_url="ws://127.0.0.1:9/gateway"
        )
    )
    ctx = TenantContext("discord-duck", "uid", TENANT, settings)
    for name, value in _env(build_gateway_deployment(ctx)).items():
        monkeypatch.setenv(name, value)
    dumped = DiscordGatewaySettings().model_dump()
    assert dumped["provider"] == "discord" and dumped["tenant"] == "duck"
    assert dumped["tenant_resource"] == "discord-duck"
    assert dumped["session_namespace"] == "cephalon-discord-duck"
    assert dumped["discord"]["api_base"] == "http://127.0.0.1:9/api/v10"
    assert dumped["discord"]["gateway_url"] == "ws://127.0.0.1:9/gateway"
    assert str(dumped["discord"]["token_file"]) == "/var/run/cephalon/credentials/bot-token"
