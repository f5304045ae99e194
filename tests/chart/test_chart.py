"""The Helm chart, rendered and linted by real Helm (helm-python-sdk), then checked:
Kubernetes schemas, the CRD schemas, the Kubernetes API emulator, and the security
properties the platform promises (ARCHITECTURE.md §4, docs/operator.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import kubernetes_validate
import pytest
import yaml

from cephalon_contracts.resources import ProviderTenantSpec
from cephalon_devkit.testing.api import KubeHttp, resource_path
from cephalon_operator.podsecurity import restricted_violations
from cephalon_operator.settings import OperatorSettings

helm_python = pytest.importorskip("helm_python")

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "cephalon"
EXAMPLE = CHART / "examples" / "two-tenants.yaml"
NAMESPACE = "cephalon-system"
Manifest = dict[str, Any]
Render = Callable[..., list[Manifest]]

KUBE_VERSIONS = ("1.27.0", kubernetes_validate.latest_version())
#: Kinds Kubernetes' own schemas do not know; checked against their CRDs instead.
CUSTOM_KINDS = {"ProviderTenant", "ServiceMonitor"}
PLURALS = {
    "Namespace": "namespaces",
    "ServiceAccount": "serviceaccounts",
    "Secret": "secrets",
    "ConfigMap": "configmaps",
    "Service": "services",
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "NetworkPolicy": "networkpolicies",
    "ClusterRole": "clusterroles",
    "ClusterRoleBinding": "clusterrolebindings",
    "ProviderTenant": "providertenants",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "ProviderTenant"}


def by_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def _pods(manifests: list[Manifest]) -> list[tuple[str, Manifest]]:
    """Every pod template the chart renders, as a pod."""
    return [
        (f"{m['kind']}/{m['metadata']['name']}", {"spec": m["spec"]["template"]["spec"]})
        for m in manifests
        if m["kind"] in ("Deployment", "StatefulSet")
    ]


# ------------------------------------------------------------------ Helm itself


@pytest.mark.parametrize("values_file", [None, EXAMPLE], ids=["defaults", "two-tenants"])
def test_helm_lint_is_clean(values_file: Path | None) -> None:
    values = yaml.safe_load(values_file.read_text()) if values_file else None
    report = helm_python.lint(str(CHART), values, strict=True, namespace=NAMESPACE)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == [], report


def test_the_packaged_chart_carries_crds_schema_and_example(tmp_path: Path) -> None:
    import tarfile

    archive = helm_python.package(str(CHART), destination=str(tmp_path))
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {
        "cephalon/crds/agentsessions.cephalon.dev.yaml",
        "cephalon/crds/providertenants.cephalon.dev.yaml",
        "cephalon/values.schema.json",
        "cephalon/examples/two-tenants.yaml",
        "cephalon/README.md",
    } <= names


def test_default_values_render_the_operator_and_redis(render: Render) -> None:
    manifests = render()
    names = sorted(f"{m['kind']}/{m['metadata']['name']}" for m in manifests)
    assert names == [
        "ClusterRole/cephalon-operator",
        "ClusterRoleBinding/cephalon-operator",
        "Deployment/cephalon-operator",
        "NetworkPolicy/cephalon-redis",
        "Secret/cephalon-redis-operator",
        "Service/cephalon-operator-metrics",
        "Service/cephalon-redis",
        "Service/cephalon-redis-headless",
        "ServiceAccount/cephalon-operator",
        "StatefulSet/cephalon-redis",
    ]
    for m in manifests:
        if m["kind"] not in CLUSTER_SCOPED:
            assert m["metadata"]["namespace"] == NAMESPACE, m["metadata"]


def test_other_release_names_prefix_every_object(render: Render) -> None:
    manifests = render(name="prod", namespace="agents")
    assert {m["metadata"]["name"] for m in by_kind(manifests, "Deployment")} == {
        "prod-cephalon-operator"
    }
    env = _operator_env(manifests)
    assert env["CEPHALON_RELEASE_NAMESPACE"] == "agents"
    assert env["CEPHALON_REDIS__URL"] == "redis://prod-cephalon-redis.agents.svc:6379/0"


def test_the_chart_ships_exactly_the_generated_crds() -> None:
    generated = {p.name: p.read_bytes() for p in (ROOT / "crds").glob("*.yaml")}
    shipped = {p.name: p.read_bytes() for p in (CHART / "crds").glob("*.yaml")}
    assert shipped == generated, "charts/cephalon/crds differs from crds/: run `make crds`"


# ------------------------------------------------------------------ schemas


@pytest.mark.parametrize("values_file", [None, EXAMPLE], ids=["defaults", "two-tenants"])
@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_every_manifest_matches_the_kubernetes_schemas(
    render: Render, values_file: Path | None, version: str
) -> None:
    values = yaml.safe_load(values_file.read_text()) if values_file else None
    for manifest in render(values):
        if manifest["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(manifest, version, strict=True)


def test_tenants_render_valid_provider_tenants(render: Render, example_values: Any) -> None:
    manifests = render(example_values)
    tenants = by_kind(manifests, "ProviderTenant")
    assert [t["metadata"]["name"] for t in tenants] == ["discord-duck", "discord-goose"]
    for tenant in tenants:
        ProviderTenantSpec.model_validate(tenant["spec"])  # the operator's own model
    duck, goose = (t["spec"] for t in tenants)
    assert duck["policy"] == {
        "rulesConfigMap": "discord-duck-rules",
        "agentsConfigMap": "discord-duck-agents",
        "skillsConfigMap": "discord-duck-skills",
    }
    assert goose["policy"] == {"rulesConfigMap": "goose-rules"}
    maps = {m["metadata"]["name"]: m for m in by_kind(manifests, "ConfigMap")}
    assert set(maps) == {"discord-duck-rules", "discord-duck-agents", "discord-duck-skills"}
    assert maps["discord-duck-rules"]["data"]["RULES.md"].startswith("# Duck team rules\n")
    assert maps["discord-duck-agents"]["data"]["AGENTS.md"].startswith("# Duck repositories")
    skill = maps["discord-duck-skills"]["data"]["release-notes.md"]
    assert skill.startswith("---\nname: release-notes\n")
    for config_map in maps.values():
        assert config_map["metadata"]["namespace"] == NAMESPACE  # where the operator reads


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"tenants": [{"provider": "Discord", "tenant": "duck"}]},
            "does not match pattern",
        ),
        (
            {
                "tenants": [
                    {
                        "provider": "discord",
                        "tenant": "duck",
                        "credentialsSecretRef": {"name": "x", "botToken": "fake-not-a-token"},
                        "models": {"default": "gpt-4.1"},
                    }
                ]
            },
            "additional properties 'botToken' not allowed",
        ),
        ({"redis": {"enabled": False}}, "/redis/external/url"),
        ({"operator": {"logLevel": "LOUD"}}, "/operator/logLevel"),
        ({"unknownTopLevel": True}, "additional properties 'unknownTopLevel' not allowed"),
    ],
    ids=["bad-provider-name", "inline-secret", "external-redis-without-url", "log-level", "typo"],
)
def test_bad_values_fail_with_a_clear_message(
    chart: Any, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm_python.HelmValuesError) as error:
        chart.validate_schema(values)
    assert message in str(error.value)


def test_a_bad_values_file_names_every_mistake(chart: Any) -> None:
    values = yaml.safe_load((Path(__file__).parent / "values" / "bad-tenant.yaml").read_text())
    with pytest.raises(helm_python.HelmValuesError) as error:
        chart.validate_schema(values)
    message = str(error.value)
    assert "/tenants/0/tenant" in message and "does not match pattern" in message
    assert "additional properties 'botToken' not allowed" in message
    assert "additional properties 'sesions' not allowed" in message


def test_bad_values_also_fail_a_render(render: Render) -> None:
    with pytest.raises(helm_python.HelmError, match="does not match pattern"):
        render({"tenants": [{"provider": "discord", "tenant": "Bad_Name"}]})


def test_a_tenant_listed_twice_fails_the_render(render: Render, example_values: Any) -> None:
    duck = example_values["tenants"][0]
    with pytest.raises(helm_python.HelmError, match="discord/duck is listed twice"):
        render({"tenants": [duck, duck]})


def test_the_example_values_pass_the_schema(chart: Any, example_values: Any) -> None:
    chart.validate_schema(example_values)


# ------------------------------------------------------------------ the emulator


async def test_every_manifest_applies_to_the_kubernetes_api(
    render: Render, example_values: Any, kube_api: Any
) -> None:
    """CRDs from the chart first (as Helm installs them), then every rendered object; the
    emulator enforces the built-in rules and the CRDs' structural schemas."""
    async with aiohttp.ClientSession() as session:
        http = KubeHttp(session, kube_api.url)
        await http.apply_crds(CHART / "crds")
        await http.create(resource_path("v1", "namespaces"), {"metadata": {"name": NAMESPACE}})
        for manifest in render(example_values):
            kind = manifest["kind"]
            namespace = None if kind in CLUSTER_SCOPED else manifest["metadata"]["namespace"]
            path = resource_path(manifest["apiVersion"], PLURALS[kind], namespace)
            created = await http.create(path, manifest)
            assert created["metadata"]["uid"]
        tenants = await http.get(resource_path("cephalon.dev/v1alpha1", "providertenants"))
        assert tenants is not None
        assert sorted(t["spec"]["tenant"] for t in tenants["items"]) == ["duck", "goose"]


# ------------------------------------------------------------------ security


def _operator_env(manifests: list[Manifest]) -> dict[str, str]:
    deployment = by_kind(manifests, "Deployment")[0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"]}


@pytest.mark.parametrize("values_file", [None, EXAMPLE], ids=["defaults", "two-tenants"])
def test_every_pod_is_restricted_and_non_root(render: Render, values_file: Path | None) -> None:
    values = yaml.safe_load(values_file.read_text()) if values_file else None
    pods = _pods(render(values))
    assert pods
    for where, pod in pods:
        assert restricted_violations(pod) == [], where
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] > 0, where
        for container in spec.get("initContainers", []) + spec["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, where
            assert container["resources"]["limits"], where


def test_only_the_operator_gets_a_service_account_token(render: Render) -> None:
    for where, pod in _pods(render()):
        expected = where.startswith("Deployment/cephalon-operator")
        assert pod["spec"]["automountServiceAccountToken"] is expected, where


def test_the_operator_runs_one_replica_with_recreate(render: Render) -> None:
    deployment = by_kind(render(), "Deployment")[0]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["cephalon-operator"]
    assert "--liveness=http://0.0.0.0:8081/healthz" in container["args"]
    assert "--metrics-port=9090" in container["args"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}


def test_watch_namespaces_and_extra_env_reach_the_operator(render: Render) -> None:
    values = {
        "operator": {
            "watchNamespaces": ["team-a", "team-b"],
            "extraEnv": [{"name": "CEPHALON_STATUS_INTERVAL_SECONDS", "value": "2"}],
        }
    }
    deployment = by_kind(render(values), "Deployment")[0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][-2:] == ["--namespace=team-a", "--namespace=team-b"]
    assert _operator_env(render(values))["CEPHALON_STATUS_INTERVAL_SECONDS"] == "2"


def test_no_secret_value_from_values_reaches_the_output(
    render: Render, example_values: Any
) -> None:
    """Tenants name Secrets; the only Secret the chart writes is the generated Redis
    password, and never with existingSecret."""
    manifests = render(example_values)
    assert [s["metadata"]["name"] for s in by_kind(manifests, "Secret")] == [
        "cephalon-redis-operator"
    ]
    external = render(example_values | {"redis": {"auth": {"existingSecret": "my-redis"}}})
    assert by_kind(external, "Secret") == []
    for manifest in by_kind(manifests, "ProviderTenant") + by_kind(manifests, "ConfigMap"):
        text = json.dumps(manifest)
        assert not re.search(r"(?i)(token|password|api[-_]?key)\"\s*:\s*\"(?!api-key\")", text)


def test_operator_settings_parse_from_the_rendered_environment(
    render: Render, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The env the chart sets is exactly what OperatorSettings reads (names and types)."""
    env = _operator_env(render({"images": {"runtime": {"repository": "r/rt", "tag": "9"}}}))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = OperatorSettings()
    assert settings.release_namespace == NAMESPACE
    assert settings.redis.url == "redis://cephalon-redis.cephalon-system.svc:6379/0"
    assert settings.redis.username == "cephalon-operator"
    assert str(settings.redis.password_file) == "/var/run/cephalon/redis/password"
    assert settings.images.runtime == "r/rt:9"
    assert settings.images.gateway == "cephalon/gateway:0.1.0"
    # The sessions' egress NetworkPolicy must select the bundled Redis pods.
    redis = by_kind(render(), "StatefulSet")[0]
    pod_labels = redis["spec"]["template"]["metadata"]["labels"]
    assert settings.redis.service_selector.items() <= pod_labels.items()
    assert settings.redis.service_selector["app.kubernetes.io/name"] == "cephalon-redis"


def test_external_redis_renders_no_redis(render: Render) -> None:
    manifests = render(
        {
            "redis": {
                "enabled": False,
                "auth": {"existingSecret": "external-redis"},
                "external": {
                    "url": "redis://redis.data.svc:6379/0",
                    "serviceSelector": {"app": "redis"},
                },
            }
        }
    )
    assert by_kind(manifests, "StatefulSet") == [] and by_kind(manifests, "Secret") == []
    env = _operator_env(manifests)
    assert env["CEPHALON_REDIS__URL"] == "redis://redis.data.svc:6379/0"
    assert json.loads(env["CEPHALON_REDIS__SERVICE_SELECTOR"]) == {"app": "redis"}


def test_redis_runs_with_acls_and_persistence(render: Render) -> None:
    redis = by_kind(render(), "StatefulSet")[0]
    spec = redis["spec"]["template"]["spec"]
    command = spec["containers"][0]["command"]
    assert command[command.index("--aclfile") + 1] == "/etc/redis-acl/users.acl"
    assert command[command.index("--appendonly") + 1] == "yes"
    script = spec["initContainers"][0]["command"][-1]
    assert "user default off" in script and "#%s" in script  # digest, never the plaintext
    claim = redis["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
    no_pvc = by_kind(render({"redis": {"persistence": {"enabled": False}}}), "StatefulSet")[0]
    assert "volumeClaimTemplates" not in no_pvc["spec"]


def _docs_rbac_table() -> set[tuple[str, str, str]]:
    text = (ROOT / "docs" / "operator.md").read_text()
    section = text.split("## RBAC the operator needs", 1)[1].split("\n## ", 1)[0]
    rules: set[tuple[str, str, str]] = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        groups = [g.strip("` ") for g in cells[0].split(",")]
        resources = [r.strip("` ") for r in cells[1].split(",")]
        verbs = [v.strip() for v in cells[2].split(",")]
        rules |= {(g, r, v) for g in groups for r in resources for v in verbs}
    return {(g.replace('""', ""), r, v) for g, r, v in rules}


def test_the_cluster_role_is_exactly_the_documented_rbac(render: Render) -> None:
    role = by_kind(render(), "ClusterRole")[0]
    granted: set[tuple[str, str, str]] = set()
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    assert "*" not in (group, resource, verb), rule
                    granted.add((group, resource, verb))
    documented = _docs_rbac_table()
    assert len(documented) > 40  # the table was found and parsed
    assert granted == documented
    binding = by_kind(render(), "ClusterRoleBinding")[0]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "cephalon-operator", "namespace": NAMESPACE}
    ]


def test_service_monitor_is_optional(render: Render) -> None:
    assert by_kind(render(), "ServiceMonitor") == []
    values = {"operator": {"metrics": {"serviceMonitor": {"enabled": True}}}}
    (monitor,) = by_kind(render(values), "ServiceMonitor")
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "interval": "30s"}]


def test_readme_documents_every_value() -> None:
    """Every leaf of values.yaml appears in the README's values table."""
    readme = (CHART / "README.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def leaves(node: Any, prefix: str = "") -> list[str]:
        if isinstance(node, dict) and node and not prefix.endswith("resources."):
            return [leaf for k, v in node.items() for leaf in leaves(v, f"{prefix}{k}.")]
        return [prefix.rstrip(".")]

    missing = [leaf for leaf in leaves(values) if f"`{leaf}`" not in readme]
    assert missing == []
