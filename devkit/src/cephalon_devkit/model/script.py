"""Scripts: what the stub model answers, step by step.

A script is a list of steps. For each chat-completions request the server takes the
first step not yet used whose ``match`` (if any) holds for the request, and uses it up
unless it says ``repeat: true``. So a plain list plays out in order, and steps with
``match`` + ``repeat`` act as standing rules — both styles mix in one script. Which
kind a step is follows from its one distinguishing key, which keeps YAML scripts short::

    steps:
      - reply: "Let me look at the file."     # streamed text
        chunk_chars: 8
        delay_ms: 20
      - tool_calls: [{name: view, arguments: {path: README.md}}]
      - error: {status: 503, message: overloaded, retry_after: 2}
      - rate_limit: {retry_after: 1}
      - reply: "cut short"
        break_after_chunks: 1                 # the connection drops mid-stream
      - reply: "cut short"
        stream_error: {message: overloaded}   # an SSE error event ends the stream

The models are validated with pydantic (``extra="forbid"`` everywhere, so a typo is an
error rather than a silently ignored field) and loading turns every failure into a
:class:`~cephalon_devkit.model.errors.ScriptError` naming the step and field.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from cephalon_devkit.model.errors import ScriptError
from cephalon_devkit.model.wire import ChatCompletionRequest, ChatMessage


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Model):
    """A predicate on the request; every field given must hold."""

    user_contains: str | None = None
    """Substring of the last user message (the CLI prefixes a ``<current_datetime>``
    block, so exact equality would never hold)."""
    user_regex: str | None = None
    """``re.search`` pattern on the last user message."""
    last_role: Literal["system", "developer", "user", "assistant", "tool"] | None = None
    """Role of the last message: ``tool`` means "the client is sending a tool result"."""
    last_tool: str | None = None
    """Function name of the call the last message answers: holds when the last message
    is a ``tool`` message whose ``tool_call_id`` is among the ``tool_calls`` of an
    assistant message before it. Lets standing (``repeat``) rules answer each tool
    result by what was called, independently of step order. The Copilot CLI names MCP
    tools ``<server>-<tool>`` (``workspace-read_file``), built-ins plainly (``glob``).
    Chat-completions requests only: the Anthropic stub's view carries no call ids."""
    model: str | None = None

    @field_validator("user_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as e:
                raise ValueError(f"not a valid regular expression: {e}") from e
        return value

    def holds(self, request: ChatCompletionRequest) -> bool:
        messages = request.get("messages") or []
        user = last_user_text(messages)
        if self.user_contains is not None and self.user_contains not in user:
            return False
        if self.user_regex is not None and re.search(self.user_regex, user) is None:
            return False
        if self.last_role is not None:
            if not messages or messages[-1].get("role") != self.last_role:
                return False
        if self.last_tool is not None and last_tool_name(messages) != self.last_tool:
            return False
        return self.model is None or request.get("model") == self.model


class UsageOverride(_Model):
    """Exact token counts to report instead of the chars/4 estimate."""

    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)


class _Step(_Model):
    match: Match | None = None
    repeat: bool = False
    """Keep the step after use (a standing rule) instead of using it up."""
    label: str | None = None
    """Free text recorded with each request this step answered, for assertions."""
    first_byte_delay_ms: int = Field(default=0, ge=0)
    """Wait before the status line: a slow upstream's time to first byte."""
    usage: UsageOverride | None = None


class StreamErrorSpec(_Model):
    message: str = "The server had an error while processing your response."
    type: str = "server_error"
    code: str | None = None


class TextStep(_Step):
    """A text answer, streamed as ``chunk_chars``-sized content deltas."""

    reply: str
    chunk_chars: int = Field(default=16, gt=0)
    delay_ms: int = Field(default=0, ge=0)
    """Pause between content chunks: a slow stream."""
    break_after_chunks: int | None = Field(default=None, ge=0)
    """Drop the connection after this many content chunks, without a finish chunk or
    ``[DONE]`` (non-streaming: drop it before answering)."""
    stream_error: StreamErrorSpec | None = None
    """Instead of dropping the connection, end the stream with an SSE
    ``data: {"error": ...}`` event — how OpenAI reports a failure after the status
    line went out — at ``break_after_chunks`` (default: after all content).
    Non-streaming: a 500 with this error."""
    finish_reason: Literal["stop", "length"] = "stop"


class ScriptedToolCall(_Model):
    name: str = Field(min_length=1)
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    """An object (sent as its JSON) or a string sent verbatim — even invalid JSON,
    to test how a client copes."""
    id: str | None = None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, separators=(",", ":"))


class ToolCallStep(_Step):
    """The model asks the client to run tools; the client calls back with results."""

    tool_calls: list[ScriptedToolCall] = Field(min_length=1)
    text: str | None = None
    """Optional content streamed before the calls ("Let me check that file.")."""
    arguments_chunk_chars: int = Field(default=24, gt=0)
    delay_ms: int = Field(default=0, ge=0)


class ErrorSpec(_Model):
    status: int = Field(ge=400, le=599)
    message: str = "The server had an error while processing your request."
    type: str = "server_error"
    code: str | None = None
    retry_after: int | None = Field(default=None, ge=0)
    """Seconds, sent as ``Retry-After``."""
    retry_after_ms: int | None = Field(default=None, ge=0)
    """Milliseconds, sent as ``retry-after-ms`` (OpenAI's clients prefer it)."""
    body: dict[str, Any] | str | None = None
    """Send this body verbatim instead of the OpenAI-style error object."""


class ErrorStep(_Step):
    error: ErrorSpec


class RateLimitSpec(_Model):
    retry_after: int | None = Field(default=1, ge=0)
    retry_after_ms: int | None = Field(default=None, ge=0)
    message: str = "Rate limit reached for requests. Please try again later."


class RateLimitStep(_Step):
    """A 429 as OpenAI sends it (``rate_limit_exceeded`` with ``Retry-After``)."""

    rate_limit: RateLimitSpec = Field(default_factory=RateLimitSpec)

    def as_error(self) -> ErrorSpec:
        return ErrorSpec(
            status=429,
            message=self.rate_limit.message,
            type="requests",
            code="rate_limit_exceeded",
            retry_after=self.rate_limit.retry_after,
            retry_after_ms=self.rate_limit.retry_after_ms,
        )


_STEP_KEYS = {"reply": "text", "tool_calls": "tool_calls", "error": "error"}


def _step_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return {
            TextStep: "text",
            ToolCallStep: "tool_calls",
            ErrorStep: "error",
            RateLimitStep: "rate_limit",
        }.get(type(value))
    if isinstance(value, dict):
        found = [kind for key, kind in _STEP_KEYS.items() if key in value]
        if "rate_limit" in value:
            found.append("rate_limit")
        return found[0] if len(found) == 1 else None
    return None


Step = Annotated[
    Annotated[TextStep, Tag("text")]
    | Annotated[ToolCallStep, Tag("tool_calls")]
    | Annotated[ErrorStep, Tag("error")]
    | Annotated[RateLimitStep, Tag("rate_limit")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message=(
            "a step needs exactly one of the keys reply, tool_calls, error, rate_limit"
        ),
    ),
]


class Script(_Model):
    steps: list[Step] = Field(default_factory=list)
    models: list[str] = Field(default_factory=lambda: ["cephalon-stub"])
    """Ids listed by ``GET /v1/models``."""
    when_exhausted: Literal["error", "repeat_last"] = "error"
    """No step matches: answer 500 naming the request (so a test fails loudly), or
    replay the script's last step whatever its ``match``."""

    @model_validator(mode="after")
    def _repeat_last_needs_steps(self) -> Script:
        if self.when_exhausted == "repeat_last" and not self.steps:
            raise ValueError("when_exhausted=repeat_last needs at least one step")
        return self


class ScriptCursor:
    """Which steps of a script are used up; picks the step for each request.

    Selection is synchronous and the server runs on one event loop, so concurrent
    requests never pick the same one-shot step.
    """

    def __init__(self, script: Script) -> None:
        self.script = script
        self._used: set[int] = set()

    def next(self, request: ChatCompletionRequest) -> tuple[int, Step] | None:
        """The index and step answering ``request``, or ``None`` when nothing matches."""
        for index, step in enumerate(self.script.steps):
            if index in self._used:
                continue
            if step.match is None or step.match.holds(request):
                if not step.repeat:
                    self._used.add(index)
                return index, step
        if self.script.when_exhausted == "repeat_last":
            return len(self.script.steps) - 1, self.script.steps[-1]
        return None

    def unused(self) -> list[Step]:
        """One-shot steps not used yet (a test can assert its script played out)."""
        return [
            step
            for index, step in enumerate(self.script.steps)
            if index not in self._used and not step.repeat
        ]


def step_kind(step: Step) -> str:
    """The tag of a validated step (``text``, ``tool_calls``, ``error``, ``rate_limit``)."""
    kind = _step_kind(step)
    assert kind is not None
    return kind


def last_user_text(messages: list[ChatMessage]) -> str:
    """Text of the last ``user`` message, joining content parts; empty if none."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(part.get("text", "") for part in content if isinstance(part, dict))
        return ""
    return ""


def last_tool_name(messages: list[ChatMessage]) -> str | None:
    """Function name of the call the last message answers, if it is a tool result.

    ``None`` when the last message is no ``tool`` message or its ``tool_call_id``
    matches no call of an earlier assistant message (the latest such call wins).
    """
    if not messages or messages[-1].get("role") != "tool":
        return None
    call_id = messages[-1].get("tool_call_id")
    if not call_id:
        return None
    for message in reversed(messages[:-1]):
        if message.get("role") != "assistant":
            continue
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and call.get("id") == call_id:
                function = call.get("function")
                name = function.get("name") if isinstance(function, dict) else None
                return name if isinstance(name, str) else None
    return None


def parse_script(data: object, *, source: str = "<script>") -> Script:
    """Validate already-decoded data as a script; a bare list means ``{"steps": list}``."""
    if isinstance(data, list):
        data = {"steps": data}
    try:
        return Script.model_validate(data)
    except ValidationError as e:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in e.errors(include_url=False)
        ]
        raise ScriptError(source, problems) from e


def load_script(path: str | Path) -> Script:
    """Read a YAML or JSON script file (JSON is YAML, so one parser serves both)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ScriptError(str(path), [f"cannot read: {e.strerror or e}"]) from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ScriptError(str(path), [f"not valid YAML/JSON: {e}"]) from e
    return parse_script(data, source=str(path))
