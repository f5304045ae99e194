"""What the kind run feeds the cluster, checked here where no cluster runs (no e2e_kind
marker): the chart values, the AgentSessions, the scripted-model manifest and the turn
script are valid before anyone spends ten minutes building images."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from cephalon_contracts.resources import AgentSessionSpec
from cephalon_operator.names import session_namespace, session_pod_name, session_secret_name
from cephalon_operator.podsecurity import restricted_violations

from .test_lifecycle import SESSION_NS, SESSIONS, TENANT, TURN_SCRIPT, session_manifest

HERE = Path(__file__).resolve().parent
CHART = HERE.parents[1] / "charts" / "cephalon"
helm_python = pytest.importorskip("helm_python")


def test_the_values_render_the_test_tenant() -> None:
    values = yaml.safe_load((HERE / "values.yaml").read_text())
    with helm_python.Chart.load(str(CHART)) as chart:
        chart.validate_schema(values)
        files = chart.render(values, name="cephalon", namespace="cephalon-system")
    texts = [text for path, text in files.items() if not path.endswith("NOTES.txt")]
    docs = [d for text in texts for d in yaml.safe_load_all(text) if d]
    (tenant,) = [d for d in docs if isinstance(d, dict) and d.get("kind") == "ProviderTenant"]
    assert tenant["metadata"]["name"] == TENANT
    spec = tenant["spec"]
    assert session_namespace(spec["provider"], spec["tenant"], None) == SESSION_NS
    assert spec["models"]["upstream"]["baseUrl"].startswith("http://cephalon-model.")


def test_the_sessions_are_valid_agent_sessions() -> None:
    owners = set()
    for i, name in enumerate(SESSIONS):
        manifest = session_manifest(name, f"13000000000000000{i + 10}")
        spec = AgentSessionSpec.model_validate(manifest["spec"])
        owners.add(spec.owner.id)
        assert manifest["metadata"]["namespace"] == SESSION_NS
        assert session_pod_name(name) == f"{name}-pod"
        assert session_secret_name(name) == f"{name}-credentials"
    assert len(owners) == len(SESSIONS)  # two owners: maxPerUser never interferes


def test_the_model_manifest_is_restricted_and_valid() -> None:
    docs = list(yaml.safe_load_all((HERE / "manifests" / "model.yaml").read_text()))
    for doc in docs:
        kubernetes_validate.validate(doc, "1.27.0", strict=True)
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    assert restricted_violations({"spec": deployment["spec"]["template"]["spec"]}) == []


def test_the_turn_script_compiles() -> None:
    compile(TURN_SCRIPT, "turn-script", "exec")
