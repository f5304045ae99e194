"""A workspace MCP server with a git-like ``publish`` tool meant to be ``restricted``.

Tools:

- ``list_files`` (safe): the files under the workspace root, sorted, at most 200;
- ``read_file`` (safe): one file's text, at most 64 KiB;
- ``write_file`` (elevated): create or replace one text file, at most 256 KiB,
  creating its directories;
- ``note`` (elevated): append a line to ``NOTES.md`` in the workspace;
- ``publish`` (restricted): pretend to push the workspace to a branch — it records the
  call in ``.published`` so a test can tell whether it really ran;
- ``sleep`` (safe): wait ``seconds`` and answer, to exercise per-tool timeouts.

Run it as a process::

    python -m cephalon_devkit.mcp_servers.workspace --port 0 --root DIR --ready-file F

``--port 0`` picks a free port; the chosen URL is written to ``--ready-file`` once the
server listens, so a test or the local pod executor knows where to connect.

``--seed DIR`` (or ``MCP_SEED``) copies ``DIR``'s tree into an empty workspace root
before serving, so a session starts from a sample repository — in local mode this
stands for what a container image would bake in. A workspace with any entry is left
as it is: a restarted sidecar must not clobber the agent's edits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings

MAX_READ_BYTES = 64 * 1024
MAX_WRITE_BYTES = 256 * 1024
MAX_FILES = 200


class Refused(ToolError, ValueError):
    """A tool refuses its input (a path outside the workspace, content too large).

    A ``ValueError``, but also a ``ToolError``: the mcp server hides the text of any
    other exception from the client, and the model needs to read why it was refused.
    """


def build_server(root: Path) -> MCPServer:
    """The server object with its tools bound to ``root``.

    Tools answer with text only (``structured_output=False``): the Copilot CLI shows a
    tool's text and its structured copy side by side, which would double every result."""
    server = MCPServer(
        "cephalon-workspace", instructions="Files of the session workspace.", log_level="WARNING"
    )
    root = root.resolve()

    def inside(relative: str) -> Path:
        path = (root / relative).resolve()
        if path != root and not path.is_relative_to(root):
            raise Refused(f"{relative!r} is outside the workspace")
        return path

    @server.tool(
        description="List the files of the workspace (relative paths, sorted).",
        structured_output=False,
    )
    def list_files() -> str:
        files = sorted(
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and ".git" not in p.parts
        )
        return "\n".join(files[:MAX_FILES])

    @server.tool(description="Read one text file of the workspace.", structured_output=False)
    def read_file(path: str) -> str:
        with inside(path).open("rb") as handle:
            return handle.read(MAX_READ_BYTES).decode("utf-8", errors="replace")

    @server.tool(
        description=(
            "Create or replace one text file of the workspace (UTF-8, at most 256 KiB), "
            "creating missing directories."
        ),
        structured_output=False,
    )
    def write_file(path: str, content: str) -> str:
        data = content.encode("utf-8")
        if len(data) > MAX_WRITE_BYTES:
            raise Refused(
                f"content is {len(data)} bytes; write_file takes at most "
                f"{MAX_WRITE_BYTES} bytes (256 KiB)"
            )
        target = inside(path)
        if target == root:
            raise Refused(f"{path!r} is the workspace itself, not a file")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return f"wrote {target.relative_to(root).as_posix()} ({len(data)} bytes)"

    @server.tool(description="Append a line to NOTES.md in the workspace.", structured_output=False)
    def note(text: str) -> str:
        with inside("NOTES.md").open("a", encoding="utf-8") as handle:
            handle.write(text.rstrip("\n") + "\n")
        return "noted"

    @server.tool(description="Publish the workspace to a remote branch.", structured_output=False)
    def publish(branch: str) -> str:
        with inside(".published").open("a", encoding="utf-8") as handle:
            handle.write(branch + "\n")
        return f"published to {branch}"

    @server.tool(description="Wait a number of seconds, then answer.", structured_output=False)
    async def sleep(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return f"slept {seconds}"

    return server


def seed_workspace(root: Path, seed: Path) -> bool:
    """Copy ``seed``'s tree into ``root`` if ``root`` has no entries; whether it did.

    Only an empty root is seeded, so a sidecar restarted mid-session keeps the agent's
    edits. Symbolic links are copied as links, not followed out of the seed.
    """
    if not seed.is_dir():
        raise FileNotFoundError(f"seed directory {str(seed)!r} does not exist")
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        return False
    shutil.copytree(seed, root, symlinks=True, dirs_exist_ok=True)
    return True


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


async def serve(root: Path, host: str, port: int, path: str, ready_file: Path | None) -> None:
    """Serve until cancelled; write the URL to ``ready_file`` once listening."""
    import uvicorn

    server = build_server(root)
    port = port or _free_port(host)
    # DNS-rebinding protection for the address it really listens on: in a pod that is
    # the pod's IP (the local pod executor gives each pod its own loopback address).
    security = TransportSecuritySettings(
        allowed_hosts=[f"{host}:*", "127.0.0.1:*", "localhost:*"],
        allowed_origins=[f"http://{host}:*", "http://127.0.0.1:*", "http://localhost:*"],
    )
    app = server.streamable_http_app(
        streamable_http_path=path, host=host, transport_security=security
    )
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    http = uvicorn.Server(config)
    task = asyncio.create_task(http.serve())
    while not http.started:
        if task.done():
            await task
            return
        await asyncio.sleep(0.02)
    if ready_file is not None:
        temporary = ready_file.with_suffix(".tmp")
        temporary.write_text(f"http://{host}:{port}{path}")
        temporary.replace(ready_file)
    await task


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("MCP_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("MCP_PORT", "0")))
    parser.add_argument("--path", default=os.environ.get("MCP_PATH", "/mcp"))
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("MCP_WORKSPACE", ".")))
    parser.add_argument(
        "--seed",
        type=Path,
        default=Path(os.environ["MCP_SEED"]) if os.environ.get("MCP_SEED") else None,
        help="copy this directory's tree into the workspace root if it is empty",
    )
    parser.add_argument("--ready-file", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.seed is not None:
        try:
            seed_workspace(args.root, args.seed)
        except OSError as e:
            parser.error(f"--seed: {e}")
    asyncio.run(serve(args.root, args.host, args.port, args.path, args.ready_file))


if __name__ == "__main__":
    main()
