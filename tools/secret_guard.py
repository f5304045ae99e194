#!/usr/bin/env python3
"""Secret guard: fail when a credential could leak outside the access layer.

Two kinds of findings (ARCHITECTURE §4, rule 6):

* a **credential environment name** (``DISCORD_TOKEN``, ``*_BOT_TOKEN``,
  ``GITHUB_TOKEN``, ``COPILOT_*TOKEN``, ``*_API_KEY``, ``CLIENT_SECRET``,
  ``REFRESH_TOKEN``) outside the access layer (``gateway/``, ``charts/``, the local-mode
  launcher in ``devkit/`` and the ``providers.yml`` it reads), docs and tests.
  Components read credentials from files (``..._FILE`` settings naming a mounted
  Secret), so such a name elsewhere means a credential is about to travel by
  environment variable into the wrong process;
* a **token-like value** (Discord bot token, GitHub token, ``sk-`` keys, AWS keys,
  Slack tokens, private keys, long secret literals) anywhere, unless it is obviously
  fake (``fake``, ``example``, ``dummy``...) and in docs, tests or the access layer.

Scans the files git knows about plus untracked, not-ignored ones. Prints
``path:line: problem`` without ever printing a value, and exits 1 on any finding.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

CREDENTIAL_NAME = re.compile(
    r"\b(DISCORD_TOKEN|[A-Z0-9]+(?:_[A-Z0-9]+)*_BOT_TOKEN|GITHUB_TOKEN"
    r"|COPILOT_(?:[A-Z0-9]+_)*TOKEN|[A-Z0-9]+(?:_[A-Z0-9]+)*_API_KEY|CLIENT_SECRET"
    r"|REFRESH_TOKEN)\b"
)
TOKEN_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Discord bot token", re.compile(r"\b[MNO][\w-]{23,27}\.[\w-]{6,7}\.[\w-]{27,40}\b")),
    ("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_\w{22,255})\b")),
    ("model provider key", re.compile(r"\bsk-(?:ant-|proj-)?[\w-]{20,}")),
    ("AWS access key", re.compile(r"\bAKIA[0-9A-Z]{16}\b")),
    ("Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("private key", re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")),
    (
        "secret literal",
        re.compile(
            r"(?i)(?:token|secret|api[_-]?key|password)[\"']?\s*[:=]\s*[\"']"
            r"(?=[^\"'\s]*[0-9])(?=[^\"'\s]*[A-Za-z])([^\"'\s]{24,})[\"']"
        ),
    ),
)
FAKE_MARKERS = re.compile(
    r"(?i)fake|example|dummy|test|placeholder|redacted|changeme|x{4,}|0{6,}|\.\.\.|<[a-z-]+>"
)
ACCESS_LAYER = ("gateway/", "charts/", "devkit/src/cephalon_devkit/local/", "providers.yml")
SELF = "tools/secret_guard.py"
SKIP_SUFFIXES = (".lock", ".png", ".jpg", ".gif", ".ico", ".whl", ".gz")
MAX_BYTES = 2_000_000


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.problem}"


def is_docs_or_tests(path: str) -> bool:
    parts = path.split("/")
    return parts[0] == "docs" or "tests" in parts[:-1] or path.endswith(".md")


def may_name_credentials(path: str) -> bool:
    return path == SELF or path.startswith(ACCESS_LAYER) or is_docs_or_tests(path)


def may_hold_fake_tokens(path: str) -> bool:
    return path.startswith(ACCESS_LAYER) or is_docs_or_tests(path)


def _redact(value: str) -> str:
    return value[:4] + "…" if len(value) > 4 else "…"


def scan_text(path: str, text: str) -> Iterator[Finding]:
    """Findings in one file's text; ``path`` is relative to the repository root."""
    names_allowed = may_name_credentials(path)
    fakes_allowed = may_hold_fake_tokens(path)
    for number, line in enumerate(text.splitlines(), start=1):
        if not names_allowed:
            for match in CREDENTIAL_NAME.finditer(line):
                yield Finding(
                    path,
                    number,
                    f"credential environment name {match.group(0)} outside the access layer"
                    " (read credentials from a mounted file instead)",
                )
        if path == SELF:
            continue
        for label, pattern in TOKEN_PATTERNS:
            for match in pattern.finditer(line):
                value = match.group(match.lastindex or 0)
                if fakes_allowed and FAKE_MARKERS.search(value):
                    continue
                yield Finding(path, number, f"{label}-like value {_redact(value)}")


def candidate_files(root: Path) -> list[str]:
    """Files git tracks plus untracked, not-ignored ones (so new files are caught)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            check=True,
            capture_output=True,
        ).stdout
        names = sorted({n for n in out.decode().split("\0") if n})
    except (OSError, subprocess.CalledProcessError):
        names = sorted(
            str(p.relative_to(root))
            for p in root.rglob("*")
            if p.is_file() and not {".git", ".venv", "node_modules"} & set(p.parts)
        )
    return [n for n in names if not n.endswith(SKIP_SUFFIXES)]


def scan(root: Path, paths: Iterable[str]) -> list[Finding]:
    findings: list[Finding] = []
    for rel in paths:
        file = root / rel
        try:
            data = file.read_bytes()
        except OSError:
            continue  # deleted but still in the index
        if len(data) > MAX_BYTES or b"\0" in data[:8192]:
            continue
        findings.extend(scan_text(rel, data.decode("utf-8", errors="replace")))
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    findings = scan(root, candidate_files(root))
    for finding in findings:
        sys.stderr.write(f"{finding}\n")
    if findings:
        sys.stderr.write(f"secret guard: {len(findings)} finding(s); see ARCHITECTURE §4.\n")
        return 1
    sys.stdout.write("secret guard: no credential names or token-like values out of place\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
