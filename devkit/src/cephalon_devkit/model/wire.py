"""The OpenAI chat-completions wire format, as TypedDicts.

Only the fields the stub reads or writes are spelled out. Requests come from clients we
do not control (the Copilot CLI's OpenAI JS client, the model gateway), so every request
field is optional and the handlers read them defensively; responses are built by our own
pure functions and typed exactly, so a test comparing against them compares against the
shape OpenAI documents.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

Role = Literal["system", "developer", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls"]


class ContentPart(TypedDict, total=False):
    type: str
    text: str


class FunctionCall(TypedDict):
    name: str
    arguments: str


class ToolCall(TypedDict):
    id: str
    type: Literal["function"]
    function: FunctionCall


class ChatMessage(TypedDict, total=False):
    role: Role
    content: str | list[ContentPart] | None
    tool_calls: list[ToolCall]
    tool_call_id: str
    name: str


class FunctionDefinition(TypedDict, total=False):
    name: str
    description: str
    parameters: dict[str, Any]


class ToolDefinition(TypedDict, total=False):
    type: str
    function: FunctionDefinition


class StreamOptions(TypedDict, total=False):
    include_usage: bool


class ChatCompletionRequest(TypedDict, total=False):
    model: str
    messages: list[ChatMessage]
    tools: list[ToolDefinition]
    stream: bool
    stream_options: StreamOptions
    temperature: float
    max_tokens: int


class Usage(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


# --- streamed response -------------------------------------------------------------


class FunctionCallDelta(TypedDict, total=False):
    name: str
    arguments: str


class ToolCallDelta(TypedDict):
    index: int
    id: NotRequired[str]
    type: NotRequired[Literal["function"]]
    function: FunctionCallDelta


class Delta(TypedDict, total=False):
    role: Literal["assistant"]
    content: str | None
    tool_calls: list[ToolCallDelta]


class ChunkChoice(TypedDict):
    index: int
    delta: Delta
    finish_reason: FinishReason | None


class ChatCompletionChunk(TypedDict):
    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: NotRequired[Usage | None]


# --- non-streamed response ---------------------------------------------------------


class AssistantMessage(TypedDict):
    role: Literal["assistant"]
    content: str | None
    tool_calls: NotRequired[list[ToolCall]]


class CompletionChoice(TypedDict):
    index: int
    message: AssistantMessage
    finish_reason: FinishReason


class ChatCompletion(TypedDict):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage


# --- other endpoints ---------------------------------------------------------------


class ModelEntry(TypedDict):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(TypedDict):
    object: Literal["list"]
    data: list[ModelEntry]


class ErrorDetail(TypedDict):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(TypedDict):
    error: ErrorDetail
