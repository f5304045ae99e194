"""Errors of the scripted model server.

The tree::

    ModelStubError
    └── ScriptError          a script file or object is not a valid script
                             (wraps yaml.YAMLError, json.JSONDecodeError,
                             pydantic.ValidationError, OSError with ``raise … from``)

Protocol-level failures (bad auth, exhausted script, scripted errors) are not Python
exceptions: they are HTTP answers the client under test has to handle.
"""

from __future__ import annotations


class ModelStubError(Exception):
    """Base of every error raised by :mod:`cephalon_devkit.model`."""


class ScriptError(ModelStubError):
    """A script could not be loaded; the message names the source and each bad field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid model script {source}:\n{lines}")
