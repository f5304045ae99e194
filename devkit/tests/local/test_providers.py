from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cephalon_contracts.crds import validate_object
from cephalon_contracts.crds.generate import crd_manifest
from cephalon_contracts.resources import PROVIDER_TENANT
from cephalon_devkit.local.providers import (
    ProvidersError,
    credentials_secret,
    has_bot_credentials,
    load_registry,
    model_key_value,
    provider_tenant,
    render,
)

REPO = Path(__file__).resolve().parents[3]
SCHEMA = crd_manifest(PROVIDER_TENANT)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
ENTRY = """
  - provider: discord
    tenant: {tenant}
    credentials: {{botToken: "${{X_BOT}}", publicKey: "${{X_KEY}}", appId: "${{X_APP}}"}}
    spec: {{models: {{default: m}}}}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "providers.yml"
    path.write_text(text)
    return path


def test_the_shipped_registry_renders_valid_provider_tenants() -> None:
    registry = load_registry(REPO / "providers.yml")
    documents = list(yaml.safe_load_all(render(registry)))
    assert [d["metadata"]["name"] for d in documents] == ["discord-duck", "discord-goose"]
    for document in documents:
        assert validate_object(SCHEMA, document) == []
    assert documents[0]["spec"]["credentialsSecretRef"] == {
        "name": "discord-duck-credentials",
        "botTokenKey": "bot-token",
        "publicKeyKey": "public-key",
        "appIdKey": "app-id",
    }
    # duck declares a model key; goose does not (it always gets the scripted model locally)
    assert documents[0]["spec"]["models"]["providerSecretRef"] == {
        "name": "discord-duck-credentials",
        "key": "model-key",
    }
    assert "providerSecretRef" not in documents[1]["spec"]["models"]


def test_the_model_key_is_optional_and_taken_only_from_the_environment(tmp_path: Path) -> None:
    text = "tenants:" + ENTRY.format(tenant="duck").replace(
        'appId: "${X_APP}"', 'appId: "${X_APP}", modelKey: "${X_MODEL}"'
    )
    entry = load_registry(_write(tmp_path, text)).tenants[0]
    creds = {"X_BOT": "fake-bot", "X_KEY": "ab", "X_APP": "1"}
    assert model_key_value(entry, creds) is None
    assert "model-key" not in credentials_secret(entry, "ns", creds)["data"]
    secret = credentials_secret(entry, "ns", {**creds, "X_MODEL": "fake-model"})
    assert base64.b64decode(secret["data"]["model-key"]) == b"fake-model"
    assert has_bot_credentials(entry, creds)
    assert not has_bot_credentials(entry, {"X_BOT": "fake-bot"})


def test_adding_a_tenant_is_adding_an_entry(tmp_path: Path) -> None:
    path = _write(tmp_path, "tenants:" + ENTRY.format(tenant="duck") + ENTRY.format(tenant="goose"))
    names = [provider_tenant(e)["metadata"]["name"] for e in load_registry(path).tenants]
    assert names == ["discord-duck", "discord-goose"]


def test_storage_partition_sets_the_session_namespace(tmp_path: Path) -> None:
    text = "tenants:" + ENTRY.format(tenant="duck") + "    storage: {partition: pond}\n"
    entry = load_registry(_write(tmp_path, text)).tenants[0]
    assert provider_tenant(entry)["spec"]["sessions"]["namespace"] == "cephalon-discord-pond"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tenants: []", "tenants: List should have at least 1 item"),
        ("tenants:" + ENTRY.format(tenant="Duck"), "tenants.0.tenant: String should match"),
        (
            "tenants:" + ENTRY.format(tenant="duck").replace("${X_BOT}", "abc"),
            "credentials must be ${ENV_NAME} references",
        ),
        ("tenants:" + ENTRY.format(tenant="duck") * 2, "discord/duck is listed twice"),
        (
            "tenants:"
            + ENTRY.format(tenant="duck").replace("default: m", "default: m, colour: red"),
            "models.colour: Extra inputs are not permitted",
        ),
        ("tenants: [\n  {provider: discord", "providers.yml:2: not valid YAML"),
    ],
)
def test_bad_registries_are_refused_naming_the_place(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ProvidersError) as info:
        load_registry(_write(tmp_path, text))
    assert message in str(info.value)


def test_credentials_are_resolved_only_from_the_environment(tmp_path: Path) -> None:
    entry = load_registry(_write(tmp_path, "tenants:" + ENTRY.format(tenant="duck"))).tenants[0]
    secret = credentials_secret(
        entry, "cephalon-system", {"X_BOT": "fake-bot", "X_KEY": "ab", "X_APP": "1"}
    )
    assert secret["metadata"] == {
        "name": "discord-duck-credentials",
        "namespace": "cephalon-system",
    }
    assert base64.b64decode(secret["data"]["bot-token"]) == b"fake-bot"
    with pytest.raises(ProvidersError, match="set X_APP in the environment"):
        credentials_secret(entry, "cephalon-system", {"X_BOT": "fake-bot", "X_KEY": "ab"})


def test_cli_renders_and_reports_errors(tmp_path: Path) -> None:
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "cephalon_devkit.cli",
            "tenants",
            "render",
            str(REPO / "providers.yml"),
        ],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert [d["kind"] for d in yaml.safe_load_all(ok.stdout)] == ["ProviderTenant"] * 2
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "cephalon_devkit.cli",
            "tenants",
            "render",
            str(_write(tmp_path, "tenants: []")),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")
