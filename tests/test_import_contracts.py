"""The import-linter contracts catch what ARCHITECTURE §1 forbids.

Each case builds a throw-away tree of our six top-level packages (placed first on
PYTHONPATH, so they shadow the real ones) and runs the real ``lint-imports`` with the
repository's ``.importlinter``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = (
    "cephalon_contracts",
    "cephalon_policy",
    "cephalon_operator",
    "cephalon_gateway",
    "cephalon_runtime",
    "cephalon_devkit",
)


def _lint(tmp_path: Path, modules: dict[str, str]) -> subprocess.CompletedProcess[str]:
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for name, source in modules.items():
        (tmp_path / name).write_text(source)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    command = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]
    command += ["--config", str(ROOT / ".importlinter")]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)


def test_a_clean_tree_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint(
        tmp_path, {"cephalon_runtime/agent.py": "import cephalon_policy\nimport copilot\n"}
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("module", "source", "broken"),
    [
        ("cephalon_runtime/chat.py", "import discord\n", "access layer imports discord"),
        ("cephalon_operator/x.py", "import cephalon_runtime\n", "the deployables never import"),
        ("cephalon_gateway/x.py", "import copilot\n", "runtime imports the Copilot"),
        ("cephalon_contracts/x.py", "import cephalon_policy\n", "contracts <- policy"),
        ("cephalon_policy/x.py", "import redis\n", "contracts and policy stay free"),
        ("cephalon_operator/y.py", "import mcp\n", "import mcp"),
    ],
)
def test_forbidden_imports_break_a_contract(
    tmp_path: Path, module: str, source: str, broken: str
) -> None:
    result = _lint(tmp_path, {module: source})
    assert result.returncode == 1
    broken_lines = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(broken in line for line in broken_lines), result.stdout
