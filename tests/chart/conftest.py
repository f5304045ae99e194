"""Render ``charts/cephalon`` with real Helm (Helm v4's Go SDK through helm-python-sdk).

``render(values)`` returns the manifests as a list of dicts (NOTES.txt and empty
documents dropped); the chart is loaded once per test session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cephalon_devkit.testing.kube import kube_api  # noqa: F401  (fixture)

helm_python = pytest.importorskip("helm_python", reason="helm-python-sdk is not installed")

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "cephalon"
EXAMPLE = CHART / "examples" / "two-tenants.yaml"
RELEASE = "cephalon"
NAMESPACE = "cephalon-system"

Manifest = dict[str, Any]
Render = Callable[..., list[Manifest]]


@pytest.fixture(scope="session")
def chart() -> Iterator[Any]:
    with helm_python.Chart.load(str(CHART)) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def render(chart: Any) -> Render:
    def _render(
        values: dict[str, Any] | None = None, *, name: str = RELEASE, namespace: str = NAMESPACE
    ) -> list[Manifest]:
        files = chart.render(values or {}, name=name, namespace=namespace)
        manifests: list[Manifest] = []
        for path, text in sorted(files.items()):
            if path.endswith("NOTES.txt"):
                continue
            manifests.extend(doc for doc in yaml.safe_load_all(text) if doc)
        return manifests

    return _render


@pytest.fixture(scope="session")
def example_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return values
