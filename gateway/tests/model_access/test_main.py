"""The ``cephalon-model-gateway`` command: help, configuration check, copilot refusal."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cephalon_gateway.model_access.main import main


def test_help_describes_the_settings(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "cephalon-model-gateway" in out and "CEPHALON_MODEL__UPSTREAM_KEY_FILE" in out


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    key = tmp_path / "upstream-key"
    key.write_text("sk-cephalon-test-check-0000000000\n")
    monkeypatch.setenv("CEPHALON_TENANT", "duck")
    monkeypatch.setenv("CEPHALON_MODEL__UPSTREAM_KEY_FILE", str(key))
    monkeypatch.setenv("CEPHALON_MODEL__ALLOWED", "gpt-4.1, gpt-4.1-mini")
    monkeypatch.setenv("CEPHALON_BUDGET__TENANT_TOKENS_PER_DAY", "")
    yield tmp_path
    logging.getLogger().handlers.clear()  # main() installs the process handler


def test_check_accepts_a_valid_configuration(env: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert main(["--check"]) == 0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CEPHALON_MODEL__UPSTREAM_KIND", "copilot", "GitHub documents no API"),
        ("CEPHALON_MODEL__UPSTREAM_KIND", "azure", "UPSTREAM_BASE_URL is required"),
        ("CEPHALON_REDIS__PASSWORD_FILE", "/nonexistent/password", "cannot read the Redis"),
        ("CEPHALON_BUDGET__SESSION_TOKENS", "-5", "greater than or equal to 0"),
    ],
)
def test_check_refuses_an_unusable_configuration(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["--check"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "sk-cephalon-test-check" not in err


def test_settings_parse_the_operator_environment(env: Path) -> None:
    from cephalon_gateway.model_access.settings import GatewaySettings, load_credentials

    settings = GatewaySettings()
    assert settings.model.allowed == ["gpt-4.1", "gpt-4.1-mini"]
    assert settings.budget.tenant_tokens_per_day is None
    credentials = load_credentials(settings)
    assert credentials.upstream_key is not None
    assert "sk-cephalon" not in repr(credentials)
