"""The e2e_kind suite explains itself where it cannot run (no e2e_kind marker: this runs
everywhere, quickly)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import skip_reason


def test_without_docker_the_reason_names_docker_and_kind(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert skip_reason() == "docker not available: e2e_kind tests need Docker and kind"


def test_with_a_docker_cli_but_no_engine_the_reason_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = skip_reason()
    assert reason is not None and reason.startswith("docker not available (the engine")
