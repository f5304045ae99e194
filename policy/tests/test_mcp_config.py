"""``.mcp.json``: the mcpServers shape and ${VAR} expansion from the allowed mapping only."""

from __future__ import annotations

import json
import os

import pytest

from cephalon_policy import McpConfigError, UnknownVariableError, expand_variables
from cephalon_policy import parse_mcp_config as parse_config

CONFIG = """\
{
  "mcpServers": {
    "search": {
      "command": "uvx",
      "args": ["code-search", "--root", "${ROOT:-/workspace}"],
      "env": {"TOKEN": "${SEARCH_TOKEN}", "LEVEL": "info"}
    },
    "issues": {
      "type": "sse",
      "url": "http://127.0.0.1:${PORT}/sse",
      "headers": {"Authorization": "Bearer ${SESSION_TOKEN}"},
      "tools": ["list", "get"],
      "timeout": 5000
    }
  }
}
"""

ALLOWED = {"SEARCH_TOKEN": "s3cret", "PORT": "8931", "SESSION_TOKEN": "tok"}


def parse(text: str, variables: dict[str, str] | None = None) -> tuple[object, ...]:
    return parse_config("workspace", ".mcp.json", text, variables or {})


def test_local_and_remote_servers_are_parsed_and_expanded() -> None:
    issues, search = parse_config("workspace", ".mcp.json", CONFIG, ALLOWED)
    assert search.name == "search" and search.transport == "stdio"
    assert search.command == "uvx"
    assert search.args == ("code-search", "--root", "/workspace")
    assert search.env_dict() == {"LEVEL": "info", "TOKEN": "s3cret"}
    assert search.variables == ("ROOT", "SEARCH_TOKEN")
    assert issues.transport == "sse" and issues.url == "http://127.0.0.1:8931/sse"
    assert issues.headers_dict() == {"Authorization": "Bearer tok"}
    assert issues.tools == ("list", "get") and issues.timeout_ms == 5000
    assert search.tools == ("*",)


def test_written_form_keeps_variables_unexpanded_and_repr_hides_values() -> None:
    _, search = parse_config("workspace", ".mcp.json", CONFIG, ALLOWED)
    assert "${SEARCH_TOKEN}" in search.written and "s3cret" not in search.written
    assert "s3cret" not in repr(search)


def test_a_default_is_used_only_when_the_variable_is_not_allowed() -> None:
    _, search = parse_config("workspace", ".mcp.json", CONFIG, {**ALLOWED, "ROOT": "/w"})
    assert search.args[-1] == "/w"


def test_the_process_environment_is_never_consulted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEARCH_TOKEN", "from-the-environment")
    assert os.environ["SEARCH_TOKEN"]
    with pytest.raises(UnknownVariableError):
        parse_config("workspace", ".mcp.json", CONFIG, {"PORT": "1", "SESSION_TOKEN": "t"})


def test_unknown_variable_names_file_line_and_variable() -> None:
    with pytest.raises(UnknownVariableError) as caught:
        parse_config("workspace", ".mcp.json", CONFIG, {"SEARCH_TOKEN": "x", "PORT": "1"})
    error = caught.value
    assert (error.file, error.line) == (".mcp.json", 11)
    assert error.details["variable"] == "SESSION_TOKEN"
    assert "SESSION_TOKEN" in error.message and "issues" in error.message


@pytest.mark.parametrize(
    ("value", "expanded", "names"),
    [
        ("plain", "plain", ()),
        ("${A}${A}-${B:-x}", "11-x", ("A", "A", "B")),
        ("$A and $$ stay", "$A and $$ stay", ()),
        ("${B:-}", "", ("B",)),
        ("${B:-a:-b}", "a:-b", ("B",)),
    ],
)
def test_expansion_rules(value: str, expanded: str, names: tuple[str, ...]) -> None:
    assert expand_variables(value, {"A": "1"}) == (expanded, names)


@pytest.mark.parametrize("value", ["${}", "${1A}", "${A-B}", "${A", "x ${A} ${"])
def test_malformed_references_are_rejected(value: str) -> None:
    with pytest.raises(ValueError):
        expand_variables(value, {"A": "1"})


def test_a_malformed_reference_in_a_file_is_a_config_error_with_a_line() -> None:
    text = '{\n "mcpServers": {\n  "s": {\n   "command": "x",\n   "args": ["${1}"]\n  }\n }\n}'
    with pytest.raises(McpConfigError) as caught:
        parse(text)
    assert caught.value.line == 5


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ('{\n  "mcpServers": {\n    "a": {"command": "x",}\n  }\n}', 3, "not valid JSON"),
        ("", 1, "not valid JSON"),
        ('{"servers": {}}', 1, "mcpServers"),
        ("[]", 1, "mcpServers"),
        ('{\n"mcpServers": {\n"a": 1\n}\n}', 3, "JSON object"),
        ('{\n"mcpServers": {\n"a": {}\n}\n}', 3, "needs 'command'"),
        ('{\n"mcpServers": {\n"a": {"command": "x",\n"url": "u"}\n}\n}', 4, "not both"),
        ('{\n"mcpServers": {\n"a": {\n"command": "x",\n"arg": []}\n}\n}', 5, "unknown key 'arg'"),
        ('{\n"mcpServers": {\n"a": {\n"url": "u",\n"env": {}}\n}\n}', 5, "unknown key 'env'"),
        ('{\n"mcpServers": {\n"a": {\n"command": ""}\n}\n}', 4, "'command'"),
        ('{\n"mcpServers": {\n"a": {\n"command": "x",\n"args": "y"}\n}\n}', 5, "'args'"),
        ('{\n"mcpServers": {\n"a": {\n"command": "x",\n"env": {"A": 1}}\n}\n}', 5, "'env'"),
        ('{\n"mcpServers": {\n"a": {\n"url": "u",\n"type": "stdio"}\n}\n}', 5, "'http' or 'sse'"),
        ('{\n"mcpServers": {\n"a": {\n"command": "x",\n"type": "http"}\n}\n}', 5, "'stdio'"),
        ('{\n"mcpServers": {\n"a": {\n"url": "u",\n"headers": []}\n}\n}', 5, "'headers'"),
        ('{\n"mcpServers": {\n"a": {\n"url": "u",\n"timeout": 0}\n}\n}', 5, "'timeout'"),
        ('{\n"mcpServers": {\n"a": {\n"url": "u",\n"tools": [1]}\n}\n}', 5, "'tools'"),
        ('{\n"mcpServers": {\n"a b": {"url": "u"}\n}\n}', 3, "server names"),
    ],
)
def test_shape_errors_name_file_and_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(McpConfigError) as caught:
        parse(text)
    assert (caught.value.file, caught.value.line) == (".mcp.json", line)
    assert fragment in caught.value.problem


def test_a_value_equal_to_a_server_name_does_not_mislead_the_line() -> None:
    text = (
        '{\n"mcpServers": {\n"a": {"command": "x", "args": ["b"]},\n'
        '"b": {"command": "y", "arg": []}\n}\n}'
    )
    with pytest.raises(McpConfigError) as caught:
        parse(text)
    assert caught.value.line == 4


def test_a_server_defined_twice_is_an_error_at_the_second() -> None:
    text = '{\n"mcpServers": {\n"a": {"command": "x"},\n"a": {"command": "y"}\n}\n}'
    with pytest.raises(McpConfigError) as caught:
        parse(text)
    assert caught.value.line == 4 and "appears twice" in caught.value.problem


def test_servers_come_back_sorted_by_name() -> None:
    text = json.dumps({"mcpServers": {n: {"url": "http://x"} for n in ("zeta", "alpha", "mid")}})
    assert [s.name for s in parse(text)] == ["alpha", "mid", "zeta"]  # type: ignore[attr-defined]


def test_local_type_alias_and_empty_server_list() -> None:
    servers = parse('{"mcpServers": {"a": {"type": "local", "command": "x"}}}')
    assert servers[0].transport == "stdio"  # type: ignore[attr-defined]
    assert parse('{"mcpServers": {}}') == ()
