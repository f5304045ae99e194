from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from cephalon_contracts.crds import (
    apply_defaults,
    crd_manifest,
    prune_unknown,
    render_crd_yaml,
    structural_schema,
    validate_object,
)
from cephalon_contracts.crds.__main__ import main as crds_main
from cephalon_contracts.crds.generate import SchemaTranslationError
from cephalon_contracts.resources import (
    AGENT_SESSION,
    CRDS,
    PROVIDER_TENANT,
    AgentSessionSpec,
    ProviderTenantSpec,
    parse_duration,
)

ROOT = Path(__file__).parents[2]
SAMPLES = ROOT / "crds" / "samples"
BY_KIND = {info.kind: info for info in CRDS}


def _schema(kind: str) -> dict[str, Any]:
    crd = crd_manifest(BY_KIND[kind])
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def test_committed_crds_are_exactly_what_the_models_generate() -> None:
    assert crds_main(["--check", "--docs", str(ROOT / "docs" / "crds.md"), str(ROOT / "crds")]) == 0


def test_check_mode_reports_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert crds_main([str(tmp_path)]) == 0
    stale = tmp_path / "agentsessions.cephalon.dev.yaml"
    stale.write_text(stale.read_text().replace("Running", "Runnin"))
    assert crds_main(["--check", str(tmp_path)]) == 1
    assert "differ from the models" in capsys.readouterr().err


@pytest.mark.parametrize("info", CRDS, ids=lambda i: i.kind)
def test_crd_shape(info: Any) -> None:
    crd = crd_manifest(info)
    version = crd["spec"]["versions"][0]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["spec"]["names"]["categories"] == ["cephalon"]
    assert version["subresources"] == {"status": {}}
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert status["properties"]["kopf"]["x-kubernetes-preserve-unknown-fields"] is True
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    for field in ("provider", "tenant"):
        assert spec["properties"][field]["x-kubernetes-validations"] == [
            {"rule": "self == oldSelf", "message": "field is immutable"}
        ]
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert "Ready" in columns and "Age" in columns


def test_short_names_and_scopes() -> None:
    assert AGENT_SESSION.short_names == ["as"] and AGENT_SESSION.scope == "Namespaced"
    assert PROVIDER_TENANT.short_names == ["pt"] and PROVIDER_TENANT.scope == "Cluster"
    columns = [c["name"] for c in AGENT_SESSION.printer_columns]
    assert columns == ["Tenant", "Owner", "Phase", "Ready", "Step", "Age"]


def _every_node(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = [(path, node)]
    for name, sub in node.get("properties", {}).items():
        out += _every_node(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        out += _every_node(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        out += _every_node(node["additionalProperties"], f"{path}.*")
    return out


@pytest.mark.parametrize("kind", sorted(BY_KIND))
def test_schema_is_structural(kind: str) -> None:
    """Every node typed; no $ref, anyOf, const or nulls that the API server would reject."""
    for path, node in _every_node(_schema(kind)):
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), path
        assert not {"$ref", "anyOf", "oneOf", "allOf", "const", "title"} & set(node), path
        assert node.get("default", 0) is not None, path


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_valid_samples_pass_the_schema_and_the_models(path: Path) -> None:
    obj = _load(path)
    schema = _schema(obj["kind"])
    assert prune_unknown(schema, obj) == []
    apply_defaults(schema, obj)
    assert validate_object(schema, obj) == []
    model = AgentSessionSpec if obj["kind"] == "AgentSession" else ProviderTenantSpec
    model.model_validate(obj["spec"])


@pytest.mark.parametrize("path", sorted((SAMPLES / "invalid").glob("*.yaml")), ids=lambda p: p.name)
def test_invalid_samples_fail_with_a_message_naming_the_field(path: Path) -> None:
    expected = path.read_text().splitlines()[0].removeprefix("# expect: ")
    obj = _load(path)
    schema = _schema(obj["kind"])
    apply_defaults(schema, obj)
    messages = [str(e) for e in validate_object(schema, obj)]
    assert any(m.startswith(expected) for m in messages), messages


def test_provider_and_tenant_are_immutable_on_update() -> None:
    schema = _schema("AgentSession")
    old = _load(SAMPLES / "agentsession.yaml")
    new = copy.deepcopy(old)
    new["spec"]["tenant"] = "goose"
    new["spec"]["lifecycle"]["state"] = "Suspended"
    errors = validate_object(schema, new, old=old)
    assert [str(e) for e in errors] == ['spec.tenant: Invalid value: "string": field is immutable']
    assert validate_object(schema, new) == []  # transition rules only apply to updates


def test_unknown_fields_are_pruned_but_status_kopf_is_kept() -> None:
    schema = _schema("AgentSession")
    obj = _load(SAMPLES / "agentsession.yaml")
    obj["spec"]["colour"] = "red"
    obj["status"] = {"phase": "Ready", "kopf": {"progress": {"h": {"retries": 1}}}, "x": 1}
    assert prune_unknown(schema, obj) == ["spec.colour", "status.x"]
    assert obj["status"]["kopf"] == {"progress": {"h": {"retries": 1}}}


def test_defaults_are_applied() -> None:
    schema = _schema("ProviderTenant")
    obj = _load(SAMPLES / "invalid" / "providertenant-negative-quota.yaml")
    apply_defaults(schema, obj)
    assert obj["spec"]["sessions"]["idleTimeout"] == "30m"
    assert obj["spec"]["sessions"]["maxConcurrent"] == -1


def test_type_errors_use_the_api_server_wording() -> None:
    schema = _schema("AgentSession")
    obj = _load(SAMPLES / "agentsession.yaml")
    obj["spec"]["profile"]["skills"] = "code-review"
    assert [str(e) for e in validate_object(schema, obj)] == [
        'spec.profile.skills: Invalid value: "string": spec.profile.skills in body must be of'
        ' type array: "string"'
    ]


def test_unions_cannot_become_structural_schemas() -> None:
    class Bad(BaseModel):
        value: int | str

    with pytest.raises(SchemaTranslationError, match="value: unions are not structural"):
        structural_schema(Bad.model_json_schema())


def test_rendered_yaml_starts_with_a_do_not_edit_header() -> None:
    assert render_crd_yaml(AGENT_SESSION).startswith("# Generated by `make crds`")


@pytest.mark.parametrize(
    ("value", "seconds"), [("30s", 30), ("15m", 900), ("8h", 28800), ("1h30m", 5400)]
)
def test_parse_duration(value: str, seconds: int) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "30", "1d", "m"])
def test_parse_duration_rejects_bad_values(value: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(value)
