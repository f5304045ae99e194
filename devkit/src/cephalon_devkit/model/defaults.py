"""The scripts local mode runs when no real provider key is given.

``default_script()`` is a short, believable coding-assistant exchange that exercises
what the platform has to show: a greeting answers greetings; any other request makes
the "model" announce a look at the workspace, call the CLI's read-only built-in
``glob`` tool, and summarise after the tool result comes back. Every step repeats, so
it never runs dry.

``demo_script()`` plays the local demo's edit of ``examples/sample-repo``: read
``greet.py``, write it back with a ``--shout`` option, ``publish`` it, then summarise
with a diff. Several sessions of several tenants share one model server at once, so
every rule is a stateless ``repeat`` rule keyed on the request alone (the last user
message, or which tool the last result answers), never on step order.
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


GREET_SHOUT = '''"""Greet someone by name: ``python greet.py Ada`` prints ``Hello, Ada!``."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Greet someone by name.")
    parser.add_argument("name", help="who to greet")
    parser.add_argument("--shout", action="store_true", help="greet in upper case")
    args = parser.parse_args(argv)
    greeting = f"Hello, {args.name}!"
    print(greeting.upper() if args.shout else greeting)  # noqa: T201 - the command's output


if __name__ == "__main__":
    main()
'''
"""``examples/sample-repo/greet.py`` with a ``--shout`` option: what the demo writes."""

DEMO_BRANCH = "cephalon/greet-shout"
"""The branch the demo publishes to."""

DEMO_SUMMARY = f"""\
Done: `greet.py` now takes a `--shout` option, and the change is published on the
branch `{DEMO_BRANCH}` for review.

**What changed**

- a new `--shout` flag, off by default, so existing calls behave as before;
- with it, the greeting is printed in upper case.

```diff
     parser.add_argument("name", help="who to greet")
+    parser.add_argument("--shout", action="store_true", help="greet in upper case")
     args = parser.parse_args(argv)
-    print(f"Hello, {{args.name}}!")  # noqa: T201 - the command's output
+    greeting = f"Hello, {{args.name}}!"
+    print(greeting.upper() if args.shout else greeting)  # noqa: T201 - the command's output
```

**Try it**

```sh
python greet.py Ada --shout   # HELLO, ADA!
```
"""
"""The demo's final, streamed answer (Markdown)."""


def demo_script() -> Script:
    """The local demo's stateless script (see the module docstring)."""
    streamed = {"chunk_chars": 12, "delay_ms": 15}
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
                        "Hi! I'm the Cephalon stub model, running offline. Ask me to change "
                        "the sample repository and I'll edit greet.py and publish it."
                    ),
                    **streamed,
                },
                {
                    "label": "read",
                    "match": {"last_role": "user"},
                    "repeat": True,
                    "text": "I'll read greet.py first.",
                    "tool_calls": [
                        {"name": "workspace-read_file", "arguments": {"path": "greet.py"}}
                    ],
                },
                {
                    "label": "write",
                    "match": {"last_tool": "workspace-read_file"},
                    "repeat": True,
                    "text": "Adding a --shout option.",
                    "tool_calls": [
                        {
                            "name": "workspace-write_file",
                            "arguments": {"path": "greet.py", "content": GREET_SHOUT},
                        }
                    ],
                },
                {
                    "label": "publish",
                    "match": {"last_tool": "workspace-write_file"},
                    "repeat": True,
                    "text": "Publishing the change on a branch for review.",
                    "tool_calls": [
                        {"name": "workspace-publish", "arguments": {"branch": DEMO_BRANCH}}
                    ],
                },
                {
                    "label": "summary",
                    "match": {"last_tool": "workspace-publish"},
                    "repeat": True,
                    "reply": DEMO_SUMMARY,
                    **streamed,
                },
                {
                    "label": "other-tool",
                    "match": {"last_role": "tool"},
                    "repeat": True,
                    "reply": "Got the tool's answer. Tell me what to change next.",
                    **streamed,
                },
            ],
        },
        source="<demo script>",
    )
