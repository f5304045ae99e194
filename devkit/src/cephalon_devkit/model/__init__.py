"""A scripted OpenAI-compatible model server: the model provider in offline tests.

The Copilot CLI (BYOK), the model gateway and local mode talk to it exactly as they
would to a real provider; a script decides what it answers and every request is
recorded for assertions. See ``docs/model-stub.md``.
"""

from cephalon_devkit.model.defaults import default_script
from cephalon_devkit.model.errors import ModelStubError, ScriptError
from cephalon_devkit.model.recording import RecordedRequest, redact_headers
from cephalon_devkit.model.script import (
    ErrorSpec,
    ErrorStep,
    Match,
    RateLimitSpec,
    RateLimitStep,
    Script,
    ScriptCursor,
    ScriptedToolCall,
    Step,
    StreamErrorSpec,
    TextStep,
    ToolCallStep,
    UsageOverride,
    load_script,
    parse_script,
)
from cephalon_devkit.model.server import ScriptedModelServer

__all__ = [
    "ErrorSpec",
    "ErrorStep",
    "Match",
    "ModelStubError",
    "RateLimitSpec",
    "RateLimitStep",
    "RecordedRequest",
    "Script",
    "ScriptCursor",
    "ScriptError",
    "ScriptedModelServer",
    "ScriptedToolCall",
    "Step",
    "StreamErrorSpec",
    "TextStep",
    "ToolCallStep",
    "UsageOverride",
    "default_script",
    "load_script",
    "parse_script",
    "redact_headers",
]
