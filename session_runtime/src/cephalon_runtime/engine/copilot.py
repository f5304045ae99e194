"""The GitHub Copilot engine: the Copilot CLI (npm ``@github/copilot``) driven by the
``github-copilot-sdk``, in BYOK mode against the tenant's model gateway.

- The CLI path is explicit, so the SDK never tries to download one; the CLI runs with
  ``COPILOT_OFFLINE=true`` and a private ``COPILOT_HOME``.
- The model gateway's base URL and the session's bearer token form the session's
  ``provider`` config; no GitHub or model-provider key is ever in the pod.
- Every tool call goes through the runtime's gate twice over: the SDK's pre-tool-use
  hook (which sees every tool under the name the model used, including MCP tools as
  ``<server>-<tool>``) and the permission handler (for whatever the CLI still asks
  about). Both ask the same gate, which decides once per call id.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import structlog
from copilot import CopilotClient, RuntimeConnection
from copilot.generated.rpc import (
    PermissionDecisionApproveOnce,
    PermissionDecisionReject,
)
from copilot.session import (
    CopilotSession,
    MCPServerConfig,
    PermissionInvocation,
    PermissionRequestResult,
    PreToolUseHookInput,
    PreToolUseHookOutput,
    ProviderConfig,
    SessionHooks,
)
from copilot.session_events import PermissionRequest, SessionEvent

from ..attachments import StoredAttachment
from ..errors import EngineError
from ..events import plan_from_markdown
from .base import UNMATCHED_CALL_PREFIX, EngineEvent, Gate, SessionConfig

log = structlog.get_logger("cephalon_runtime.engine.copilot")

#: How long a graceful CLI stop may take before the CLI is killed.
STOP_TIMEOUT_SECONDS = 8.0

#: Permission kinds → the tool names policy rates (when a request names no tool).
_KIND_TOOL = {"shell": "bash", "write": "write", "read": "read", "url": "url"}


async def stop_client(client: CopilotClient, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Stop the CLI — gracefully if it manages within ``timeout``, else by killing it —
    and close its pipes.

    ``client.stop()`` may take up to ~30 s (a shutdown RPC, a graceful exit wait, then
    terminate and kill), for instance while the CLI is compacting a conversation; the
    pod's grace period is shorter. And SDK 1.0.25's ``stop()`` reaps the CLI but leaves
    its stdout/stderr pipes open, leaking two file objects per client (a
    ResourceWarning), so they are closed here.
    """
    process = client._cli_process
    started = time.monotonic()
    try:
        await asyncio.wait_for(client.stop(), timeout)
        log.info("engine_stopped", seconds=round(time.monotonic() - started, 2))
    except Exception as e:  # a timeout or a failed shutdown RPC: kill it
        log.warning("engine_stop_forced", reason=repr(e))
        await client.force_stop()
    finally:
        if process is not None:
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()


def _attachment(stored: StoredAttachment) -> dict[str, str]:
    """Images go inline (the model sees them); other files are tagged by path and the
    agent reads them from the workspace with its own tools."""
    if stored.content_type.startswith("image/"):
        return {
            "type": "blob",
            "data": base64.b64encode(stored.path.read_bytes()).decode(),
            "mimeType": stored.content_type,
            "displayName": stored.display_name,
        }
    return {"type": "file", "path": str(stored.path), "displayName": stored.display_name}


class CopilotEngineSession:
    def __init__(self, gate: Gate) -> None:
        self._gate = gate
        self._session: CopilotSession | None = None
        self._subscribers: list[Callable[[EngineEvent], None]] = []
        # tool.execution_start arrives just before the pre-tool-use hook; the hook
        # carries no call id, so the ids wait here per tool name
        self._starting: defaultdict[str, deque[str]] = defaultdict(deque)
        self._hook_calls = 0
        self._background: set[asyncio.Task[None]] = set()

    def attach(self, session: CopilotSession) -> None:
        self._session = session
        session.on(self._on_event)

    def _on_event(self, event: SessionEvent) -> None:
        kind = event.type.value
        data = event.data
        if kind in {"session.todos_changed", "session.plan_changed"}:
            # signal-only events: the plan itself has to be read back over RPC
            task = asyncio.create_task(self._read_plan(kind))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return
        if kind == "tool.execution_start" and data is not None:
            name = getattr(data, "tool_name", None)
            call_id = getattr(data, "tool_call_id", None)
            if name and call_id:
                self._starting[str(name)].append(str(call_id))
        self._dispatch(EngineEvent(kind, data))

    def _dispatch(self, event: EngineEvent) -> None:
        for callback in list(self._subscribers):
            callback(event)

    async def _read_plan(self, kind: str) -> None:
        session = self._session
        if session is None:
            return
        try:
            if kind == "session.todos_changed":
                rows = (await session.rpc.plan.read_sql_todos(timeout=5)).rows
                todos: list[Any] = list(rows)
            else:
                plan = await session.rpc.plan.read(timeout=5)
                todos = plan_from_markdown(plan.content or "")
        except Exception as e:  # the plan is a nicety; never fail a turn over it
            log.info("plan_read_failed", kind=kind, error=str(e))
            return
        self._dispatch(EngineEvent(kind, {"todos": todos}))

    def subscribe(self, callback: Callable[[EngineEvent], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    async def pre_tool_use(
        self, hook: PreToolUseHookInput, invocation: dict[str, str]
    ) -> PreToolUseHookOutput:
        tool = hook["toolName"]
        pending = self._starting.get(tool)
        if pending:
            call_id = pending.popleft()
        else:
            self._hook_calls += 1
            call_id = f"{UNMATCHED_CALL_PREFIX}hook-{self._hook_calls}"
        decision = await self._gate(tool, hook.get("toolArgs"), call_id)
        if decision.allow:
            return {"permissionDecision": "allow"}
        return {"permissionDecision": "deny", "permissionDecisionReason": decision.reason}

    async def permission(
        self, request: PermissionRequest, invocation: PermissionInvocation
    ) -> PermissionRequestResult:
        kind = str(getattr(request, "kind", "tool"))
        if kind == "mcp":
            tool = f"{getattr(request, 'server_name', '')}-{getattr(request, 'tool_name', '')}"
            arguments: Any = getattr(request, "args", None)
        elif kind == "custom-tool":
            tool = str(getattr(request, "tool_name", kind))
            arguments = getattr(request, "args", None)
        else:
            tool = _KIND_TOOL.get(kind, kind)
            arguments = {
                k: v
                for k, v in (
                    ("command", getattr(request, "full_command_text", None)),
                    ("path", getattr(request, "file_name", None)),
                    ("url", getattr(request, "url", None)),
                )
                if v is not None
            }
        call_id = getattr(request, "tool_call_id", None) or f"{UNMATCHED_CALL_PREFIX}{id(request)}"
        decision = await self._gate(tool, arguments, str(call_id))
        if decision.allow:
            return PermissionDecisionApproveOnce()
        return PermissionDecisionReject(feedback=decision.reason)

    def _require(self) -> CopilotSession:
        if self._session is None:
            raise EngineError("the engine session is not open")
        return self._session

    async def send(self, prompt: str, attachments: list[StoredAttachment]) -> None:
        files = [_attachment(a) for a in attachments]
        try:
            await self._require().send(prompt, attachments=cast(Any, files) or None)
        except EngineError:
            raise
        except Exception as e:  # the CLI died or refused the message
            raise EngineError(f"the Copilot engine did not take the message: {e}") from e

    async def abort(self) -> None:
        await self._require().abort()

    async def set_model(self, model: str) -> None:
        await self._require().set_model(model)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.disconnect()
            self._session = None


class CopilotEngine:
    def __init__(
        self,
        *,
        cli_path: Path,
        base_url: str,
        token: str,
        default_model: str,
        provider_type: str = "openai",
        home: Path | None = None,
    ) -> None:
        self._cli_path = cli_path
        self._base_url = base_url
        self._token = token
        self._default_model = default_model
        self._provider_type = provider_type
        self._home = home
        self._own_home: Path | None = None
        self._client: CopilotClient | None = None
        self._sessions: list[CopilotEngineSession] = []

    async def start(self) -> None:
        home = self._home
        if home is None:
            self._own_home = home = Path(tempfile.mkdtemp(prefix="cephalon-copilot-"))
        home.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "COPILOT_HOME": str(home),
            "COPILOT_OFFLINE": "true",
            "COPILOT_PROVIDER_BASE_URL": self._base_url,
            "COPILOT_MODEL": self._default_model,
        }
        client = CopilotClient(
            connection=RuntimeConnection.for_stdio(path=str(self._cli_path)), env=env
        )
        try:
            await client.start()
        except Exception as e:
            raise EngineError(
                f"the Copilot CLI at {self._cli_path} did not start: {type(e).__name__}"
            ) from e
        self._client = client
        log.info("engine_started", cli=str(self._cli_path))

    async def open_session(self, config: SessionConfig) -> CopilotEngineSession:
        if self._client is None:
            raise EngineError("the engine is not started")
        wrapper = CopilotEngineSession(config.gate)
        provider: ProviderConfig = cast(
            ProviderConfig,
            {"type": self._provider_type, "base_url": self._base_url, "api_key": self._token},
        )
        hooks: SessionHooks = {"on_pre_tool_use": wrapper.pre_tool_use}
        session = await self._client.create_session(
            model=config.model,
            provider=provider,
            streaming=True,
            on_permission_request=wrapper.permission,
            hooks=hooks,
            working_directory=config.working_directory,
            mcp_servers=cast(dict[str, MCPServerConfig], config.mcp_servers) or None,
            system_message={"mode": "append", "content": config.system_message},
            skill_directories=config.skill_directories or None,
            # instructions, skills and MCP servers come from the policy snapshot only: the
            # CLI must not read the workspace's AGENTS.md (it would sit outside the
            # precedence order, above the tenant's rules) nor a repository's own MCP
            # servers, hooks or agents
            skip_custom_instructions=True,
            enable_config_discovery=False,
        )
        wrapper.attach(session)
        self._sessions.append(wrapper)
        return wrapper

    async def stop(self) -> None:
        for session in self._sessions:
            try:
                await asyncio.wait_for(session.close(), 5)
            except Exception as e:  # the CLI may already be gone or busy
                log.warning("engine_session_close_failed", error=repr(e))
        self._sessions.clear()
        if self._client is not None:
            client, self._client = self._client, None
            await stop_client(client)
        if self._own_home is not None:
            shutil.rmtree(self._own_home, ignore_errors=True)
