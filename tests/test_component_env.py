"""The environment the operator gives each component is what that component reads.

The operator builds the access-layer Deployments and the session pod; each component
parses its settings from that environment. A renamed setting on either side would only
show in a cluster, so this test feeds the builders' env to the real settings classes.
"""

from __future__ import annotations

from typing import Any

import pytest

from cephalon_contracts.resources import ProviderTenantSpec
from cephalon_gateway.model_access.settings import GatewaySettings
from cephalon_operator.builders.tenant import TenantContext, build_model_gateway_deployment
from cephalon_operator.settings import OperatorSettings

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
