"""Agent engines. The runtime speaks to an engine only through :mod:`.base`; the GitHub
Copilot SDK (:mod:`.copilot`) is the one shipped."""

from .base import Engine, EngineEvent, EngineSession, Gate, SessionConfig

__all__ = ["Engine", "EngineEvent", "EngineSession", "Gate", "SessionConfig"]
