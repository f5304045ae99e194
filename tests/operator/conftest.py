from __future__ import annotations

import pytest

from cephalon_contracts.resources import AgentSessionSpec, ProviderTenantSpec
from cephalon_operator.builders.session import SessionContext
from cephalon_operator.builders.tenant import TenantContext
from cephalon_operator.settings import OperatorSettings

TENANT_SPEC = {
    "provider": "discord",
    "tenant": "duck",
    "credentialsSecretRef": {"name": "discord-duck-credentials"},
    "models": {
        "default": "gpt-4.1",
        "allowed": ["gpt-4.1"],
        "providerSecretRef": {"name": "discord-duck-model", "key": "api-key"},
    },
    "sessions": {"resources": {"requests": {"cpu": "250m"}, "limits": {"memory": "2Gi"}}},
    "mcpServers": [
        {
            "name": "git",
            "image": "cephalon/mcp-git:1.0.0",
            "port": 8701,
            "tools": [{"name": "git_push", "risk": "restricted"}],
        }
    ],
}
SESSION_SPEC = {
    "provider": "discord",
    "tenant": "duck",
    "owner": {"id": "42", "name": "ada"},
    "conversation": {"channel": "7"},
}


@pytest.fixture
def settings() -> OperatorSettings:
    return OperatorSettings()


class Factory:
    """Builds contexts from the sample specs with per-test overrides."""

    def __init__(self, settings: OperatorSettings) -> None:
        self.settings = settings

    def tenant_spec(self, **overrides: object) -> ProviderTenantSpec:
        return ProviderTenantSpec.model_validate({**TENANT_SPEC, **overrides})

    def session(
        self, tenant: ProviderTenantSpec | None = None, **overrides: object
    ) -> SessionContext:
        return SessionContext(
            name="s-1",
            namespace="cephalon-discord-duck",
            uid="uid-s-1",
            spec=AgentSessionSpec.model_validate({**SESSION_SPEC, **overrides}),
            tenant=tenant or self.tenant_spec(),
            settings=self.settings,
        )

    def tenant(self, **overrides: object) -> TenantContext:
        return TenantContext(
            name="discord-duck",
            uid="uid-t",
            spec=self.tenant_spec(**overrides),
            settings=self.settings,
        )


@pytest.fixture
def make(settings: OperatorSettings) -> Factory:
    return Factory(settings)
