"""The serving part every emulator shares: an aiohttp app on a loopback port.

Subclasses build their app and may hook start and stop; the runner, the port picked by
the OS, the URL and the ``async with`` protocol live here once.
"""

from __future__ import annotations

from types import TracebackType
from typing import ClassVar, Self

from aiohttp import web


class LoopbackHttpServer:
    #: What ``port`` raises before ``start()`` (subclasses name their own error).
    not_started_error: ClassVar[type[Exception]] = RuntimeError

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def build_app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> None:
        runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, self.host, self._requested_port).start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        self.on_started()

    def on_started(self) -> None:
        """Called once the port is known."""

    async def on_stopping(self) -> None:
        """Called before the server closes (end background work here)."""

    async def stop(self) -> None:
        await self.on_stopping()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise self.not_started_error(f"the {type(self).__name__} is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
