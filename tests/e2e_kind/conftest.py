"""A real cluster for the ``e2e_kind`` tests: the kind cluster ``make kind-up`` made.

Skipped, with the reason, when Docker, kind, kubectl or helm is missing, when the Docker
engine does not answer, or when the cluster does not exist yet (``make e2e-kind`` creates
it first). Importing this module runs nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
CLUSTER = os.environ.get("KIND_CLUSTER", "cephalon")
NAMESPACE = os.environ.get("CEPHALON_NAMESPACE", "cephalon-system")
TOOLS = ("docker", "kind", "kubectl", "helm")


def skip_reason() -> str | None:
    """Why the kind tests cannot run here, or None when they can."""
    if shutil.which("docker") is None:
        return "docker not available: e2e_kind tests need Docker and kind"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return "docker not available (the engine does not answer): e2e_kind tests need Docker"
    if info.returncode != 0:
        return "docker not available (the engine is not running): e2e_kind tests need Docker"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not installed: e2e_kind tests need {', '.join(TOOLS)}"
    clusters = subprocess.run(
        ["kind", "get", "clusters"], capture_output=True, text=True, timeout=30, check=False
    )
    if CLUSTER not in clusters.stdout.split():
        return f"no kind cluster {CLUSTER!r}: run `make e2e-kind` (it runs `make kind-up` first)"
    return None


@dataclass(frozen=True)
class Kube:
    """kubectl against the kind cluster's context."""

    context: str
    namespace: str

    def attempt(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", "--context", self.context, *args],
            capture_output=True,
            text=True,
            input=input,
            timeout=120,
            check=False,
        )

    def run(self, *args: str, input: str | None = None, check: bool = True) -> str:
        result = self.attempt(*args, input=input)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def get(self, *args: str) -> Any:
        """``kubectl get ... -o json`` parsed; None when the object does not exist."""
        out = self.run("get", *args, "-o", "json", "--ignore-not-found")
        return json.loads(out) if out.strip() else None

    def apply(self, manifest: dict[str, Any]) -> None:
        self.run("apply", "-f", "-", input=json.dumps(manifest))

    def can_connect(self, namespace: str, pod: str, host: str, port: int) -> bool:
        """Whether ``pod``'s runtime container opens a TCP connection to host:port."""
        probe = (
            "import socket,sys\n"
            "s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)\n"
            "s.settimeout(4)\n"
            "try:\n s.connect((sys.argv[1], int(sys.argv[2]))); print('open')\n"
            "except OSError: print('blocked')\n"
        )
        out = self.run(
            "-n", namespace, "exec", pod, "-c", "runtime", "--",
            "python", "-c", probe, host, str(port),
        )  # fmt: skip
        return out.strip() == "open"


def eventually(probe: Callable[[], T | None], *, timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}: {value!r}")
        time.sleep(2)


def condition(obj: dict[str, Any] | None, kind: str) -> str | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            status: str = cond.get("status")
            return status
    return None


@pytest.fixture(scope="session")
def kube() -> Kube:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    return Kube(context=f"kind-{CLUSTER}", namespace=NAMESPACE)
