"""The workspace layout keeps the promises of ARCHITECTURE §1."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
MEMBERS = {
    "contracts": "cephalon_contracts",
    "policy": "cephalon_policy",
    "operator": "cephalon_operator",
    "gateway": "cephalon_gateway",
    "session_runtime": "cephalon_runtime",
    "devkit": "cephalon_devkit",
}


def _deps(member: str) -> set[str]:
    data = tomllib.loads((ROOT / member / "pyproject.toml").read_text())
    return {
        re.split(r"[<>=!~ \[]", d, maxsplit=1)[0].lower() for d in data["project"]["dependencies"]
    }


def test_operator_folder_does_not_shadow_the_stdlib_module() -> None:
    code = "import operator, cephalon_operator; assert operator.add(1, 2) == 3"
    code += "; print(operator.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "site-packages" not in out.stdout and "/operator/" not in out.stdout
    assert not (ROOT / "operator" / "__init__.py").exists()


@pytest.mark.parametrize(("folder", "package"), sorted(MEMBERS.items()))
def test_each_member_has_its_own_project_and_src_package(folder: str, package: str) -> None:
    assert (ROOT / folder / "pyproject.toml").is_file()
    assert (ROOT / folder / "src" / package / "__init__.py").is_file()
    assert (ROOT / folder / "src" / package / "py.typed").is_file()


def test_members_declare_only_what_they_may_use() -> None:
    assert "discord.py" not in _deps("session_runtime")
    assert "github-copilot-sdk" not in _deps("gateway") | _deps("operator")
    assert "cephalon-runtime" not in _deps("operator")
    assert "cephalon-operator" not in _deps("session_runtime")
    for deployable in ("operator", "gateway", "session_runtime"):
        others = {"cephalon-operator", "cephalon-gateway", "cephalon-runtime"}
        assert not others & _deps(deployable)
    assert _deps("contracts") <= {"pydantic", "pyyaml"}


def test_the_workspace_lists_every_member() -> None:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert sorted(root["tool"]["uv"]["workspace"]["members"]) == sorted(MEMBERS)


def test_the_pinned_lock_names_no_download_address() -> None:
    lock = (ROOT / "requirements.lock").read_text()
    assert "://" not in lock
    assert "--hash=sha256:" in lock


def test_copilot_sdk_and_cli_are_pinned_as_a_matching_pair() -> None:
    """SDK 1.0.25 speaks the protocol of CLI 1.0.102 (FACTS.md); bump both together."""
    runtime = tomllib.loads((ROOT / "session_runtime" / "pyproject.toml").read_text())
    assert "github-copilot-sdk==1.0.25" in runtime["project"]["dependencies"]
    assert version("github-copilot-sdk") == "1.0.25"
    package = json.loads((ROOT / "tools" / "copilot" / "package.json").read_text())
    assert package["dependencies"] == {"@github/copilot": "1.0.102"}
    cli = ROOT / "tools" / "copilot" / "node_modules" / ".bin" / "copilot"
    out = subprocess.run([str(cli), "--version"], capture_output=True, text=True, timeout=60)
    assert "1.0.102" in out.stdout


def test_npm_is_told_to_keep_addresses_out_of_the_lockfile() -> None:
    assert "omit-lockfile-registry-resolved=true" in (ROOT / "tools/copilot/.npmrc").read_text()
    assert "resolved" not in (ROOT / "tools/copilot/package-lock.json").read_text()
