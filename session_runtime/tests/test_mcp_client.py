"""The runtime's own MCP client against a real MCP server process: tools/list health,
per-tool timeouts, and errors that name server and tool."""

from __future__ import annotations

from pathlib import Path

import pytest

from cephalon_runtime.errors import McpToolFailedError, McpToolNotFoundError, McpToolTimeoutError
from cephalon_runtime.mcp_servers import CircuitState, McpSupervisor
from cephalon_runtime.settings import McpServerSetting, McpSettings

from .conftest import mcp_server_process


async def test_probe_calls_and_timeouts(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hi there")
    async with mcp_server_process(tmp_path, tmp_path / "ready") as url:
        mcp = McpSupervisor(
            McpSettings(
                servers=[McpServerSetting(name="ws", url=url)],
                tool_timeouts={"ws-sleep": 0.3},
                failure_threshold=2,
            )
        )
        await mcp.probe_all()
        assert mcp.health() == {"ws": True}
        assert mcp.servers["ws"].tools == (
            "list_files",
            "note",
            "publish",
            "read_file",
            "sleep",
            "write_file",
        )

        assert await mcp.call_tool("ws", "read_file", {"path": "hello.txt"}) == "hi there"
        with pytest.raises(McpToolTimeoutError, match="'ws'.*'sleep'.*0.3") as timed_out:
            await mcp.call_tool("ws", "sleep", {"seconds": 5})
        assert timed_out.value.code == "TIMEOUT_TOOL"
        with pytest.raises(McpToolFailedError, match="'ws'.*'read_file'.*returned an error"):
            await mcp.call_tool("ws", "read_file", {"path": "../../etc/passwd"})
        with pytest.raises(McpToolNotFoundError, match="'ws'.*'nope'"):
            await mcp.call_tool("ws", "nope", {})
        assert mcp.servers["ws"].breaker.state is CircuitState.CLOSED, "a tool error is no outage"
