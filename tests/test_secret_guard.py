"""The secret guard is a quality gate: it must catch what it promises to catch."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[1]
GUARD = ROOT / "tools" / "secret_guard.py"


def _load_guard() -> ModuleType:
    spec = importlib.util.spec_from_file_location("secret_guard", GUARD)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["secret_guard"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


guard = _load_guard()

# Built at run time so that this file itself holds no token-like value.
DISCORD_LIKE = "M" + "T" * 10 + "k3Nzg5MDEyMzQ1Njc4" + "." + "Gh1jKl" + "." + "Ab9" * 10
GITHUB_LIKE = "gh" + "p_" + "a1B2c3D4" * 5
MODEL_KEY_LIKE = "s" + "k-proj-" + "Zq8Wm2Lk9Rt4Yp6Vn3Hs1Jd7"
CRED_NAME = "DISCORD" + "_TOKEN"


def _git_repo(tmp_path: Path, files: dict[str, str]) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def _run(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GUARD), "--root", str(root)], capture_output=True, text=True
    )


def test_credential_name_in_the_session_runtime_fails_naming_the_file(tmp_path: Path) -> None:
    """The acceptance case: DISCORD_TOKEN=abc under session_runtime/ must fail lint."""
    root = _git_repo(tmp_path, {"session_runtime/src/leak.env": f"{CRED_NAME}=abc\n"})
    result = _run(root)
    assert result.returncode == 1
    assert "session_runtime/src/leak.env:1: credential environment name" in result.stderr
    assert "abc" not in result.stderr


def test_untracked_files_are_scanned_but_ignored_ones_are_not(tmp_path: Path) -> None:
    root = _git_repo(
        tmp_path,
        {".gitignore": "secrets.local\n", "secrets.local": f"{CRED_NAME}=x\n", "ok.py": "x = 1\n"},
    )
    assert _run(root).returncode == 0
    (root / "operator").mkdir()
    (root / "operator" / "new.py").write_text(f'os.environ["{CRED_NAME}"]\n')
    assert "operator/new.py:1" in _run(root).stderr


@pytest.mark.parametrize(
    "path", ["gateway/src/x.py", "charts/cephalon/values.yaml", "docs/security.md", "a/tests/t.py"]
)
def test_credential_names_are_allowed_in_the_access_layer_docs_and_tests(path: str) -> None:
    assert list(guard.scan_text(path, f"{CRED_NAME}: ...")) == []


@pytest.mark.parametrize(
    "name",
    ["DISCORD_TOKEN", "DUCK_BOT_TOKEN", "GITHUB_TOKEN", "COPILOT_GITHUB_TOKEN", "OPENAI_API_KEY",
     "CLIENT_SECRET", "REFRESH_TOKEN"],
)  # fmt: skip
def test_each_credential_name_is_caught_outside_the_access_layer(name: str) -> None:
    findings = list(guard.scan_text("operator/src/cephalon_operator/x.py", f"env={name}"))
    assert [f.line for f in findings] == [1]


@pytest.mark.parametrize("name", ["CEPHALON_MODEL__API_KEY_FILE", "TOKEN_BUCKET", "API_KEYS"])
def test_file_path_settings_and_lookalikes_are_not_credential_names(name: str) -> None:
    assert list(guard.scan_text("operator/src/x.py", name)) == []


@pytest.mark.parametrize("value", [DISCORD_LIKE, GITHUB_LIKE, MODEL_KEY_LIKE])
def test_token_like_values_are_caught_everywhere_even_in_tests(value: str) -> None:
    for path in ("contracts/src/x.py", "gateway/src/x.py", "gateway/tests/test_x.py"):
        findings = list(guard.scan_text(path, f'token = "{value}"'))
        assert findings, path
        assert all(value not in str(f) for f in findings)


def test_secret_literals_are_caught() -> None:
    line = 'api_key = "' + "q7Lm2Zx9Rt4Yp6Vn3Hs1Jd8K" + '"'
    assert list(guard.scan_text("policy/src/x.py", line))


def test_obviously_fake_values_are_allowed_in_tests_and_docs_only() -> None:
    fake = "s" + "k-fake-" + "0123456789abcdefghijklmnop"
    assert list(guard.scan_text("devkit/tests/test_model.py", f'KEY = "{fake}"')) == []
    assert list(guard.scan_text("docs/security.md", fake)) == []
    assert list(guard.scan_text("session_runtime/src/x.py", f'KEY = "{fake}"'))


def test_private_keys_are_caught() -> None:
    text = "-----BEGIN " + "OPENSSH PRIVATE KEY-----\nabc\n"
    assert [f.line for f in guard.scan_text("operator/x.pem", text)] == [1]


def test_the_repository_itself_is_clean() -> None:
    assert _run(ROOT).returncode == 0
