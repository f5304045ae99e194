"""``cephalon dev kube`` writes a kubeconfig, serves, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import yaml

from .conftest import eventually


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc.yaml"
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from cephalon_devkit.cli import main; raise SystemExit(main())",
        "dev",
        "kube",
        "--port",
        str(port),
        "--kubeconfig",
        str(kubeconfig),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:

        async def written() -> bool:
            return kubeconfig.exists()

        await eventually(written, timeout=20, what="kubeconfig written")
        config = yaml.safe_load(kubeconfig.read_text())
        server = config["clusters"][0]["cluster"]["server"]
        assert server == f"http://127.0.0.1:{port}"
        assert config["current-context"] == config["contexts"][0]["name"]
        async with aiohttp.ClientSession() as session, session.get(f"{server}/version") as reply:
            assert reply.status == 200
            assert (await reply.json())["major"] == "1"
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, err.decode()
    assert b"serving at" in err
