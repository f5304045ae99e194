"""``.mcp.json``: the ``mcpServers`` shape shared by Claude Code, Copilot and others.

Each server is either local (``command`` with optional ``args`` and ``env``) or remote
(``url`` with optional ``type`` ``http``/``sse`` and ``headers``). ``${VAR}`` and
``${VAR:-default}`` in those strings are expanded **only** from the mapping the
caller allows (the session's variables), never from the process environment: a
repository must not be able to pull the runtime's environment into a header it sends
somewhere. An unknown variable is an error naming the file and line.

The snapshot hash covers the server *as written* (with ``${VAR}`` unexpanded), so a
rotated session token does not look like a policy change, and the hash never depends
on a secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .errors import McpConfigError, PolicyError, UnknownVariableError
from .files import Origin

MCP_CONFIG_FILENAME = ".mcp.json"

#: The model sees MCP tools as ``<server>-<tool>``, so names stay simple.
SERVER_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
VARIABLE_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REFERENCE = re.compile(r"\$\{([^}]*)\}")

_LOCAL_KEYS = {"type", "command", "args", "env", "tools", "timeout"}
_REMOTE_KEYS = {"type", "url", "headers", "tools", "timeout"}

Transport = Literal["stdio", "http", "sse"]


class McpServer(BaseModel):
    """One MCP server, with every ``${VAR}`` already expanded.

    ``written`` keeps the entry as the file wrote it (canonical JSON, unexpanded);
    the snapshot hash uses it instead of the expanded values.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    transport: Transport
    command: str | None = None
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = Field(default=(), repr=False)
    url: str | None = None
    headers: tuple[tuple[str, str], ...] = Field(default=(), repr=False)
    tools: tuple[str, ...] = ("*",)
    timeout_ms: int | None = None
    variables: tuple[str, ...] = ()
    origin: Origin
    source: str
    written: str = Field(repr=False)

    def env_dict(self) -> dict[str, str]:
        """``env`` as a fresh dict, for the SDK's server config."""
        return dict(self.env)

    def headers_dict(self) -> dict[str, str]:
        """``headers`` as a fresh dict, for the SDK's server config."""
        return dict(self.headers)


def _line_of(text: str, needle: str, start: int = 0) -> tuple[int | None, int]:
    """1-based line of the first ``needle`` at or after ``start`` (and its offset)."""
    offset = text.find(needle, start)
    if offset < 0:
        return None, start
    return text.count("\n", 0, offset) + 1, offset


def _line_of_key(text: str, key: str, start: int = 0) -> tuple[int | None, int]:
    """Like :func:`_line_of` for an object key: the string followed by a colon.

    ``json`` reports no positions for values, so lines are found in the text; matching
    the colon keeps a value that happens to equal a key (``"args": ["search"]``) from
    being taken for the key ``"search"``.
    """
    match = re.compile(re.escape(json.dumps(key)) + r"\s*:").search(text, start)
    if match is None:
        return None, start
    return text.count("\n", 0, match.start()) + 1, match.start()


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` that refuses a key given twice (``json`` keeps the last)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


def expand_variables(value: str, variables: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    """Expand ``${NAME}`` / ``${NAME:-default}`` in ``value`` from ``variables`` only.

    Returns the expanded text and the names referenced. Raises ``KeyError(name)`` for a
    name that is neither allowed nor defaulted and ``ValueError`` for a malformed
    reference; callers turn those into errors that name the file and line.
    """
    used: list[str] = []

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        name, sep, default = inner.partition(":-")
        if not VARIABLE_NAME_PATTERN.fullmatch(name):
            raise ValueError(f"malformed variable reference ${{{inner}}}")
        used.append(name)
        if name in variables:
            return variables[name]
        if sep:
            return default
        raise KeyError(name)

    expanded = _REFERENCE.sub(replace, value)
    if "${" in _REFERENCE.sub("", value):
        raise ValueError("'${' without a closing '}'")
    return expanded, tuple(used)


def _string_map(value: object) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return value


def parse_mcp_config(
    origin: Origin, path: str, text: str, variables: Mapping[str, str]
) -> tuple[McpServer, ...]:
    """Parse one ``.mcp.json`` into servers sorted by name; raise on the first problem."""
    try:
        document = json.loads(text, object_pairs_hook=_reject_duplicates)
    except json.JSONDecodeError as e:
        raise McpConfigError(
            f"not valid JSON: {e.msg} (column {e.colno})", origin=origin, file=path, line=e.lineno
        ) from e
    except _DuplicateKeyError as e:
        first = _line_of_key(text, e.key)[1]
        line = _line_of_key(text, e.key, first + 1)[0]
        raise McpConfigError(
            f"key {e.key!r} appears twice in one object", origin=origin, file=path, line=line
        ) from e
    if not isinstance(document, dict) or not isinstance(document.get("mcpServers"), dict):
        raise McpConfigError(
            "expected an object with an 'mcpServers' object", origin=origin, file=path, line=1
        )
    servers_offset = _line_of_key(text, "mcpServers")[1]
    servers: list[McpServer] = []
    for name, entry in document["mcpServers"].items():
        line, offset = _line_of_key(text, name, servers_offset)
        servers.append(_parse_server(origin, path, text, name, entry, line, offset, variables))
    return tuple(sorted(servers, key=lambda s: s.name))


def _parse_server(
    origin: Origin,
    path: str,
    text: str,
    name: str,
    entry: object,
    line: int | None,
    offset: int,
    variables: Mapping[str, str],
) -> McpServer:
    def fail(problem: str, key: str | None = None) -> McpConfigError:
        key_line = _line_of_key(text, key, offset)[0] if key else None
        return McpConfigError(
            f"server {name!r}: {problem}", origin=origin, file=path, line=key_line or line
        )

    if not SERVER_NAME_PATTERN.fullmatch(name):
        raise fail("server names are letters, digits, '.', '_' and '-', at most 64 characters")
    if not isinstance(entry, dict):
        raise fail("each server must be a JSON object")
    kind = entry.get("type")
    local = "command" in entry
    if local and "url" in entry:
        raise fail("give either 'command' (local) or 'url' (remote), not both", "url")
    if not local and "url" not in entry:
        raise fail("needs 'command' (local server) or 'url' (remote server)")
    allowed_keys = _LOCAL_KEYS if local else _REMOTE_KEYS
    for key in sorted(entry):
        if key not in allowed_keys:
            raise fail(f"unknown key {key!r} for a {'local' if local else 'remote'} server", key)
    if local and kind not in (None, "stdio", "local"):
        raise fail("a server with 'command' has type 'stdio'", "type")
    if not local and kind not in (None, "http", "sse"):
        raise fail("a server with 'url' has type 'http' or 'sse'", "type")

    used: list[str] = []

    def expand(value: str, key: str) -> str:
        try:
            expanded, names = expand_variables(value, variables)
        except KeyError as e:
            variable = str(e.args[0])
            where = _line_of(text, "${" + variable, offset)[0] or line
            raise UnknownVariableError(
                f"server {name!r}: variable ${{{variable}}} in {key!r} is not one the session "
                "allows",
                origin=origin,
                file=path,
                line=where,
                details={"variable": variable},
            ) from e
        except ValueError as e:
            raise fail(str(e), key) from e
        used.extend(names)
        return expanded

    tools = entry.get("tools", ["*"])
    if not isinstance(tools, list) or not all(isinstance(t, str) and t for t in tools):
        raise fail("'tools' must be a list of tool names", "tools")
    timeout = entry.get("timeout")
    if timeout is not None and (
        not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0
    ):
        raise fail("'timeout' must be a positive integer (milliseconds)", "timeout")

    fields: dict[str, Any] = {}
    if local:
        command = entry["command"]
        if not isinstance(command, str) or not command:
            raise fail("'command' must be a non-empty string", "command")
        args = entry.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise fail("'args' must be a list of strings", "args")
        env = _string_map(entry.get("env", {}))
        if env is None:
            raise fail("'env' must map names to strings", "env")
        fields.update(
            transport="stdio",
            command=expand(command, "command"),
            args=tuple(expand(a, "args") for a in args),
            env=tuple(sorted((k, expand(v, "env")) for k, v in env.items())),
        )
    else:
        url = entry["url"]
        if not isinstance(url, str) or not url:
            raise fail("'url' must be a non-empty string", "url")
        headers = _string_map(entry.get("headers", {}))
        if headers is None:
            raise fail("'headers' must map names to strings", "headers")
        fields.update(
            transport=kind or "http",
            url=expand(url, "url"),
            headers=tuple(sorted((k, expand(v, "headers")) for k, v in headers.items())),
        )
    return McpServer(
        name=name,
        tools=tuple(tools),
        timeout_ms=timeout,
        variables=tuple(sorted(set(used))),
        origin=origin,
        source=path,
        written=json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        **fields,
    )


def load_mcp_servers(
    origin: Origin, path: str, text: str, variables: Mapping[str, str]
) -> tuple[tuple[McpServer, ...], list[PolicyError]]:
    """Like :func:`parse_mcp_config` but returns the error instead of raising it."""
    try:
        return parse_mcp_config(origin, path, text, variables), []
    except PolicyError as e:
        return (), [e]
