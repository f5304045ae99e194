"""The real kubectl against the emulator, as a subprocess: the acceptance list of
issue 3 (apply CRDs and samples, get/-o yaml/-w, selectors, describe, wait, status
patches, replace, delete, printer columns)."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest
import yaml

from cephalon_devkit.testing.kube import KubeApiHandle

from .conftest import CRD_DIR, SAMPLES

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
pytestmark = pytest.mark.skipif(not Path(KUBECTL).exists(), reason="kubectl is not installed")


class Kubectl:
    def __init__(self, kubeconfig: Path, home: Path) -> None:
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "KUBECONFIG": str(kubeconfig),
        }

    async def start(self, *args: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            KUBECTL,
            *args,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def run(
        self, *args: str, ok: bool = True, stdin: str | None = None
    ) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            KUBECTL,
            *args,
            env=self.env,
            stdin=asyncio.subprocess.PIPE if stdin is not None else None,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(
            process.communicate(stdin.encode() if stdin is not None else None), timeout=60
        )
        code = process.returncode
        assert code is not None
        if ok:
            assert code == 0, f"kubectl {' '.join(args)} failed: {err.decode()}"
        return code, out.decode(), err.decode()


@pytest.fixture
def kubectl(kube_api: KubeApiHandle, tmp_path: Path) -> Kubectl:
    home = tmp_path / "home"
    home.mkdir()
    return Kubectl(kube_api.kubeconfig_path, home)


async def read_until(process: asyncio.subprocess.Process, needle: str, timeout: float = 15) -> str:
    assert process.stdout is not None
    seen = ""

    async def reader() -> None:
        nonlocal seen
        assert process.stdout is not None
        while needle not in seen:
            line = await process.stdout.readline()
            if not line:
                return
            seen += line.decode()

    await asyncio.wait_for(reader(), timeout)
    return seen


async def test_kubectl_custom_resource_workflow(kubectl: Kubectl, tmp_path: Path) -> None:
    _, out, _ = await kubectl.run("apply", "-f", str(CRD_DIR))
    assert "customresourcedefinition.apiextensions.k8s.io/agentsessions.cephalon.dev created" in out
    _, out, _ = await kubectl.run("apply", "-f", str(CRD_DIR))
    assert "agentsessions.cephalon.dev unchanged" in out

    _, out, _ = await kubectl.run("apply", "-f", str(SAMPLES / "valid"))
    assert "agentsession.cephalon.dev/demo-session created" in out
    assert "providertenant.cephalon.dev/discord-duck created" in out
    code, _, err = await kubectl.run("apply", "-f", str(SAMPLES / "invalid"), ok=False)
    assert code != 0
    assert 'spec.tenant: Invalid value: "Duck_Tenant"' in err
    assert "spec.owner: Required value" in err
    assert 'unknown field "spec.colour"' in err

    _, out, _ = await kubectl.run("get", "as")
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "TENANT", "OWNER", "PHASE", "READY", "STEP", "AGE"]
    assert row.split()[:3] == ["demo-session", "duck", "alice"]
    _, out, _ = await kubectl.run("get", "pt")
    assert out.splitlines()[0].split() == ["NAME", "PROVIDER", "TENANT", "READY", "ACTIVE", "AGE"]

    _, out, _ = await kubectl.run("get", "as", "demo-session", "-o", "yaml")
    obj = yaml.safe_load(out)
    assert obj["kind"] == "AgentSession" and obj["spec"]["workspace"]["storage"]["size"] == "1Gi"

    _, out, _ = await kubectl.run("get", "as", "-l", "cephalon.dev/tenant=duck", "-o", "name")
    assert out.strip() == "agentsession.cephalon.dev/demo-session"
    _, out, err = await kubectl.run("get", "as", "-l", "cephalon.dev/tenant notin (duck)")
    assert out == "" and "No resources found" in err

    watcher = await kubectl.start("get", "as", "-w")
    waiter = await kubectl.start(
        "wait", "as/demo-session", "--for=jsonpath={.status.phase}=Ready", "--timeout=30s"
    )
    await read_until(watcher, "demo-session")
    status = (
        '{"status":{"phase":"Ready","progress":{"step":"cloning"},"conditions":[{"type":"Ready",'
        '"status":"True","reason":"Up","lastTransitionTime":"2026-11-22T00:00:00Z"}]}}'
    )
    _, out, _ = await kubectl.run(
        "patch", "as", "demo-session", "--subresource=status", "--type=merge", "-p", status
    )
    assert "patched" in out
    waited, _ = await asyncio.wait_for(waiter.communicate(), 30)
    assert waiter.returncode == 0 and b"condition met" in waited
    seen = await read_until(watcher, "cloning")
    assert "Ready" in seen
    watcher.terminate()
    await watcher.wait()

    _, out, _ = await kubectl.run("describe", "as", "demo-session")
    assert "Name:         demo-session" in out and "Phase:" in out and "Events:" in out

    _, out, _ = await kubectl.run("get", "as", "demo-session", "-o", "yaml")
    current = yaml.safe_load(out)
    current["spec"]["owner"]["name"] = "bob"
    manifest = tmp_path / "replace.yaml"
    manifest.write_text(yaml.safe_dump(current))
    _, out, _ = await kubectl.run("replace", "-f", str(manifest))
    assert "replaced" in out
    code, _, err = await kubectl.run("replace", "-f", str(manifest), ok=False)
    assert code != 0 and "Conflict" in err and "the object has been modified" in err
    _, out, _ = await kubectl.run(
        "get",
        "as",
        "demo-session",
        "-o",
        "jsonpath={.spec.owner.name} {.status.phase} {.metadata.generation}",  # noqa: E501,
    )
    assert out == "bob Ready 2"

    _, out, _ = await kubectl.run("delete", "as", "demo-session")
    assert 'agentsession.cephalon.dev "demo-session" deleted' in out
    code, _, err = await kubectl.run("get", "as", "demo-session", ok=False)
    assert code != 0 and "NotFound" in err


async def test_kubectl_builtin_kinds(kubectl: Kubectl) -> None:
    manifest = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  labels: {app: demo}\n"
        "data:\n  a: '1'\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: {app: demo}\nspec:\n"
        "  containers:\n  - name: web\n    image: python:3.11\n"
        "    env:\n    - {name: A, value: '1'}\n"
    )
    _, out, _ = await kubectl.run("apply", "-f", "-", stdin=manifest)
    assert "configmap/cfg created" in out and "pod/web created" in out
    changed = manifest.replace("a: '1'", "a: '2'").replace("python:3.11", "python:3.12")
    _, out, _ = await kubectl.run("apply", "-f", "-", stdin=changed)
    assert "configmap/cfg configured" in out and "pod/web configured" in out
    _, out, _ = await kubectl.run("get", "pod", "web", "-o", "jsonpath={.spec.containers[0].image}")
    assert out == "python:3.12"
    # As on a real cluster, a pod's spec is immutable apart from images and a few fields.
    env_change = changed.replace("value: '1'", "value: '2'")
    code, _, err = await kubectl.run("apply", "-f", "-", stdin=env_change, ok=False)
    assert code != 0 and "pod updates may not change fields other than" in err
    _, out, _ = await kubectl.run("get", "cm", "cfg", "-o", "jsonpath={.data.a}")
    assert out == "2"
    _, out, _ = await kubectl.run("get", "pods", "-l", "app=demo")
    assert out.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert out.splitlines()[1].split()[:3] == ["web", "0/1", "Pending"]
    _, out, _ = await kubectl.run("get", "pods", "--field-selector", "status.phase=Running")
    assert out == ""
    _, out, _ = await kubectl.run("describe", "pod", "web")
    assert "Name:" in out and "web" in out
    _, out, _ = await kubectl.run("delete", "pod", "web")
    assert 'pod "web" deleted' in out
    _, out, _ = await kubectl.run("get", "ns")
    assert "default" in out and "Active" in out


async def test_kubectl_create_generators_send_protobuf(kubectl: Kubectl) -> None:
    """``kubectl create <kind>`` encodes bodies as protobuf; the common kinds decode."""
    _, out, _ = await kubectl.run("create", "namespace", "cephalon-system")
    assert "namespace/cephalon-system created" in out
    ns = ("-n", "cephalon-system")
    await kubectl.run("create", "secret", "generic", "creds", *ns, "--from-literal=bot-token=abc")
    await kubectl.run("create", "configmap", "policy", *ns, "--from-literal=RULES.md=be kind")
    await kubectl.run("create", "serviceaccount", "gateway", *ns)
    _, out, _ = await kubectl.run("get", "secret", "creds", *ns, "-o", "jsonpath={.data.bot-token}")
    assert out == "YWJj"
    _, out, _ = await kubectl.run("get", "cm", "policy", *ns, "-o", "jsonpath={.data.RULES\\.md}")
    assert out == "be kind"
    code, _, err = await kubectl.run("create", "deployment", "web", "--image=x", ok=False)
    assert code != 0 and "protobuf only for" in err


async def test_kubectl_applies_the_committed_samples_and_refuses_the_invalid_ones(
    kubectl: Kubectl,
) -> None:
    """`kubectl apply -f crds/samples/` as the repository ships them: every valid sample is
    accepted and each invalid one is refused with the message its first line names."""
    samples = CRD_DIR / "samples"
    await kubectl.run("apply", "-f", str(CRD_DIR))
    await kubectl.run("create", "namespace", "cephalon-discord-duck")
    _, out, _ = await kubectl.run("apply", "-f", str(samples))
    assert "providertenant.cephalon.dev/discord-duck created" in out
    assert "agentsession.cephalon.dev/s-1200000000000000001 created" in out
    for sample in sorted((samples / "invalid").glob("*.yaml")):
        expected = sample.read_text().splitlines()[0].removeprefix("# expect: ")
        code, _, err = await kubectl.run("apply", "-f", str(sample), ok=False)
        assert code != 0, sample.name
        assert expected in err, (sample.name, err)
