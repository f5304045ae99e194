"""The devkit's workspace MCP server through the real MCP client: ``write_file`` and
seeding the workspace from a sample repository (``--seed`` / ``MCP_SEED``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mcp import Client

from cephalon_devkit.mcp_servers.workspace import MAX_WRITE_BYTES, build_server

from .conftest import mcp_server_process


async def call(client: Client, tool: str, arguments: dict[str, object]) -> tuple[bool, str]:
    """Whether the call failed, and its text."""
    result = await client.call_tool(tool, arguments)
    return result.is_error, "\n".join(getattr(c, "text", "") for c in result.content)


async def test_write_file_creates_directories_and_replaces(tmp_path: Path) -> None:
    async with Client(build_server(tmp_path)) as client:
        assert await call(client, "write_file", {"path": "pkg/sub/greet.py", "content": "é\n"}) == (
            False,
            "wrote pkg/sub/greet.py (3 bytes)",
        )
        assert (tmp_path / "pkg" / "sub" / "greet.py").read_text(encoding="utf-8") == "é\n"
        await call(client, "write_file", {"path": "pkg/sub/greet.py", "content": "v2"})
        assert await call(client, "read_file", {"path": "pkg/sub/greet.py"}) == (False, "v2")


async def test_write_file_refuses_outside_paths_and_large_content(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    async with Client(build_server(root)) as client:
        for path in ("../escape.txt", str(tmp_path / "abs.txt"), "."):
            failed, text = await call(client, "write_file", {"path": path, "content": "x"})
            assert failed, path
            assert "outside the workspace" in text or "the workspace itself" in text
        failed, text = await call(
            client, "write_file", {"path": "big.txt", "content": "x" * (MAX_WRITE_BYTES + 1)}
        )
        assert failed and f"at most {MAX_WRITE_BYTES} bytes" in text
        exactly = await call(
            client, "write_file", {"path": "max.txt", "content": "x" * MAX_WRITE_BYTES}
        )
        assert exactly == (False, f"wrote max.txt ({MAX_WRITE_BYTES} bytes)")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["max.txt", "ws"]


def sample(seed: Path) -> Path:
    (seed / "pkg").mkdir(parents=True)
    (seed / "README.md").write_text("sample\n")
    (seed / "pkg" / "mod.py").write_text("X = 1\n")
    return seed


async def test_seed_copies_the_tree_into_an_empty_workspace(tmp_path: Path) -> None:
    seed, root = sample(tmp_path / "seed"), tmp_path / "ws"
    async with mcp_server_process(root, tmp_path / "ready", "--seed", str(seed)) as url:
        async with Client(url, mode="legacy") as client:
            assert await call(client, "list_files", {}) == (False, "README.md\npkg/mod.py")
            await call(client, "write_file", {"path": "pkg/mod.py", "content": "X = 2\n"})
    assert (seed / "pkg" / "mod.py").read_text() == "X = 1\n", "the seed itself is not edited"


async def test_seed_from_the_environment_leaves_a_used_workspace_alone(tmp_path: Path) -> None:
    """A restarted sidecar: the workspace already holds the agent's edits."""
    seed, root = sample(tmp_path / "seed"), tmp_path / "ws"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "mod.py").write_text("X = 2\n")
    async with mcp_server_process(root, tmp_path / "ready", env={"MCP_SEED": str(seed)}) as url:
        async with Client(url, mode="legacy") as client:
            assert await call(client, "list_files", {}) == (False, "pkg/mod.py")
            assert await call(client, "read_file", {"path": "pkg/mod.py"}) == (False, "X = 2\n")
    empty = tmp_path / "empty"
    async with mcp_server_process(empty, tmp_path / "ready2", env={"MCP_SEED": str(seed)}):
        assert (empty / "pkg" / "mod.py").read_text() == "X = 1\n"


def test_a_missing_seed_directory_stops_the_server_at_startup(tmp_path: Path) -> None:
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "cephalon_devkit.mcp_servers.workspace",
            "--root",
            str(tmp_path / "ws"),
            "--ready-file",
            str(tmp_path / "ready"),
            "--seed",
            str(tmp_path / "nope"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 2
    assert f"seed directory {str(tmp_path / 'nope')!r} does not exist" in finished.stderr
    assert not (tmp_path / "ready").exists()
