"""The script local mode runs when no real provider key is given.

A short, believable coding-assistant exchange that exercises what the platform has to
show: a greeting answers greetings; any other request makes the "model" announce a
look at the workspace, call the CLI's read-only built-in ``glob`` tool, and summarise
after the tool result comes back. Every step repeats, so it never runs dry.
"""

from __future__ import annotations

from cephalon_devkit.model.script import Script, parse_script


def default_script() -> Script:
    return parse_script(
        {
            "models": ["cephalon-stub", "gpt-4.1"],
            "when_exhausted": "repeat_last",
            "steps": [
                {
                    "label": "greeting",
                    "match": {"user_regex": r"(?i)\b(hi|hello|hey)\b", "last_role": "user"},
                    "repeat": True,
                    "reply": (
                        "Hi! I'm the Cephalon stub model, running offline. Ask me to look "
                        "at the repository and I'll list its files and summarise what I see."
                    ),
                    "chunk_chars": 12,
                    "delay_ms": 15,
                },
                {
                    "label": "look-around",
                    "match": {"last_role": "user"},
                    "repeat": True,
                    "text": "Let me look at the workspace first.",
                    "tool_calls": [{"name": "glob", "arguments": {"pattern": "*"}}],
                },
                {
                    "label": "summary",
                    "match": {"last_role": "tool"},
                    "repeat": True,
                    "reply": (
                        "I listed the top level of the workspace. The layout looks like a "
                        "typical project: sources, tests and configuration side by side. "
                        "Tell me which file to open next, or what you want changed, and "
                        "I'll propose an edit."
                    ),
                    "chunk_chars": 12,
                    "delay_ms": 15,
                },
            ],
        },
        source="<default script>",
    )
