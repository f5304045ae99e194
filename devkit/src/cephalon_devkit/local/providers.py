"""``providers.yml``: the registry of provider tenants, and its 1:1 map onto resources.

One entry per bot of one provider for one tenant. Credentials are never written in
the file: each is a ``${ENV_NAME}`` reference, resolved only when local mode creates
the tenant's Secret (in a cluster, the Secret is managed outside Cephalon and the
``ProviderTenant`` only names it). Everything else is the ``ProviderTenant`` spec, in
the same camelCase, validated by the same model — so ``cephalon tenants render`` prints
exactly what the operator will read. Adding a tenant is adding an entry.

.. code-block:: yaml

    tenants:
      - provider: discord
        tenant: duck
        credentials:
          botToken: ${DUCK_DISCORD_BOT_TOKEN}
          publicKey: ${DUCK_DISCORD_PUBLIC_KEY}
          appId: ${DUCK_DISCORD_APP_ID}
        storage:
          partition: duck          # Redis topic root partition and session namespace suffix
        spec:                      # anything of ProviderTenant.spec except provider/tenant
          models: {default: gpt-4.1}
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cephalon_contracts.names import PROVIDER_PATTERN
from cephalon_contracts.resources import API_VERSION, ProviderTenantSpec

ENV_REFERENCE = re.compile(r"^\$\{([A-Z_][A-Z0-9_]*)\}$")
SECRET_KEYS = {"botToken": "bot-token", "publicKey": "public-key", "appId": "app-id"}
MODEL_KEY = "model-key"
"""The Secret key holding the tenant's model provider key, when it declares one."""


class ProvidersError(ValueError):
    """providers.yml is missing, malformed or invalid; the message names the place."""


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    botToken: str  # noqa: N815 - the file's spelling
    publicKey: str  # noqa: N815
    appId: str  # noqa: N815
    modelKey: str | None = None  # noqa: N815
    """The model provider's key for the tenant's model gateway (optional: without one,
    local mode answers with the scripted model)."""

    @field_validator("botToken", "publicKey", "appId", "modelKey")
    @classmethod
    def _must_be_reference(cls, value: str | None) -> str | None:
        if value is not None and not ENV_REFERENCE.fullmatch(value):
            raise ValueError(
                "credentials must be ${ENV_NAME} references, never values written in the file"
            )
        return value


class Storage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    partition: str = Field(pattern=PROVIDER_PATTERN)
    """Keeps the tenant's session namespace (and its data) apart from every other."""


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str = Field(pattern=PROVIDER_PATTERN)
    tenant: str = Field(pattern=PROVIDER_PATTERN)
    credentials: Credentials
    storage: Storage | None = None
    spec: dict[str, Any] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.provider}-{self.tenant}"

    @property
    def secret_name(self) -> str:
        return f"{self.name}-credentials"

    def tenant_spec(self) -> ProviderTenantSpec:
        """The validated ProviderTenant spec this entry stands for."""
        body: dict[str, Any] = {
            **self.spec,
            "provider": self.provider,
            "tenant": self.tenant,
            "credentialsSecretRef": {"name": self.secret_name},
        }
        if self.credentials.modelKey is not None:
            models = dict(body.get("models") or {})
            models.setdefault("providerSecretRef", {"name": self.secret_name, "key": MODEL_KEY})
            body["models"] = models
        if self.storage is not None:
            sessions = dict(body.get("sessions") or {})
            sessions.setdefault("namespace", f"cephalon-{self.provider}-{self.storage.partition}")
            body["sessions"] = sessions
        return ProviderTenantSpec.model_validate(body)


class Registry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenants: list[Entry] = Field(min_length=1)

    @field_validator("tenants")
    @classmethod
    def _unique(cls, entries: list[Entry]) -> list[Entry]:
        seen: set[str] = set()
        for entry in entries:
            if entry.name in seen:
                raise ValueError(f"{entry.provider}/{entry.tenant} is listed twice")
            seen.add(entry.name)
        return entries


def load_registry(path: Path) -> Registry:
    """Read and validate providers.yml; every error names the entry and field."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ProvidersError(f"{path}: cannot read: {e.strerror}") from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ProvidersError(f"{path}{where}: not valid YAML: {getattr(e, 'problem', e)}") from e
    try:
        registry = Registry.model_validate(data)
        for entry in registry.tenants:
            entry.tenant_spec()
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise ProvidersError(f"{path}: {problems}") from e
    return registry


def provider_tenant(entry: Entry) -> dict[str, Any]:
    """The ProviderTenant resource of an entry (no secret values in it)."""
    spec = entry.tenant_spec().model_dump(mode="json", by_alias=True, exclude_none=True)
    return {
        "apiVersion": API_VERSION,
        "kind": "ProviderTenant",
        "metadata": {
            "name": entry.name,
            "labels": {
                "cephalon.dev/provider": entry.provider,
                "cephalon.dev/tenant": entry.tenant,
            },
        },
        "spec": spec,
    }


def credentials_secret(
    entry: Entry, namespace: str, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The tenant's credentials Secret, with values resolved from the environment."""
    env = os.environ if environ is None else environ
    data = {}
    missing = []
    for field, key in SECRET_KEYS.items():
        name = env_name(getattr(entry.credentials, field))
        value = env.get(name)
        if value is None:
            missing.append(name)
        else:
            data[key] = base64.b64encode(value.encode()).decode()
    model_key = model_key_value(entry, env)
    if model_key is not None:
        data[MODEL_KEY] = base64.b64encode(model_key.encode()).decode()
    if missing:
        raise ProvidersError(
            f"{entry.provider}/{entry.tenant}: set {', '.join(missing)} in the environment"
        )
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": entry.secret_name, "namespace": namespace},
        "data": data,
    }


def env_name(reference: str) -> str:
    """``${NAME}`` → ``NAME`` (references are validated on load)."""
    match = ENV_REFERENCE.fullmatch(reference)
    if match is None:
        raise ProvidersError(f"{reference!r} is not a ${{ENV_NAME}} reference")
    return match.group(1)


def has_bot_credentials(entry: Entry, environ: Mapping[str, str]) -> bool:
    """Whether every bot credential of the entry is set in the environment."""
    return all(env_name(getattr(entry.credentials, f)) in environ for f in SECRET_KEYS)


def model_key_value(entry: Entry, environ: Mapping[str, str]) -> str | None:
    """The tenant's model provider key from the environment, if it declares and sets one."""
    if entry.credentials.modelKey is None:
        return None
    return environ.get(env_name(entry.credentials.modelKey)) or None


def render(registry: Registry) -> str:
    """``cephalon tenants render``: the ProviderTenant resources as a YAML stream."""
    return yaml.safe_dump_all(
        [provider_tenant(entry) for entry in registry.tenants], sort_keys=False
    )
