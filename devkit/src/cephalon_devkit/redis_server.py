"""A real ``redis-server`` process on a loopback port, for tests and local mode.

ACLs are on: the ``default`` user is disabled and an admin user (the operator's) gets
a generated password, so every component must authenticate as its own user exactly as
in a cluster. The data directory is a temporary folder unless one is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

ADMIN_USER = "cephalon-operator"


class RedisServerError(RuntimeError):
    """redis-server is missing or did not start."""


@dataclass(frozen=True, slots=True)
class RedisServer:
    host: str
    port: int
    admin_user: str
    admin_password: str
    directory: Path

    @property
    def url(self) -> str:
        """The URL without credentials (components authenticate separately)."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def admin_password_file(self) -> Path:
        return self.directory / "admin-password"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def running_redis(
    directory: Path | None = None,
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    log_file: Path | None = None,
) -> AsyncIterator[RedisServer]:
    """Start redis-server, wait until it answers, yield it, stop it. Its output goes
    to ``log_file`` (default: ``redis.log`` in ``directory``)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisServerError("redis-server is not installed; run `make setup`")
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="redis-")))
        directory.mkdir(parents=True, exist_ok=True)
        password = secrets.token_hex(24)
        server = RedisServer(host, port or free_port(host), ADMIN_USER, password, directory)
        server.admin_password_file.write_text(password)
        server.admin_password_file.chmod(0o600)
        acl_file = directory / "users.acl"
        acl_file.write_text(f"user default off\nuser {ADMIN_USER} on >{password} ~* &* +@all\n")
        acl_file.chmod(0o600)
        log_path = log_file or directory / "redis.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = stack.enter_context(log_path.open("wb"))
        process = await asyncio.create_subprocess_exec(
            binary,
            "--bind", host,
            "--port", str(server.port),
            "--dir", str(directory),
            "--save", "",
            "--appendonly", "no",
            "--aclfile", str(acl_file),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            await _wait_until_listening(server, process, log_path)
            yield server
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def _wait_until_listening(
    server: RedisServer, process: asyncio.subprocess.Process, log: Path
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while loop.time() < deadline:
        if process.returncode is not None:
            tail = log.read_text(errors="replace")[-500:]
            raise RedisServerError(f"redis-server exited with {process.returncode}: {tail}")
        try:
            _, writer = await asyncio.open_connection(server.host, server.port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RedisServerError(f"redis-server did not listen on {server.port} within 15 s")
