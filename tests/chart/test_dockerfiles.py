"""What can be checked about the images without a Docker engine: every COPY source exists
in the build context, the final stage runs as a non-root numeric user, base images are
bare names, the entry points are console scripts of the member, and each image installs
from its own pinned, hash-checked lock."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
#: folder -> (image the chart and kind use, workspace members it installs)
IMAGES = {
    "operator": ("cephalon/operator", ["contracts", "policy", "operator"]),
    "gateway": ("cephalon/gateway", ["contracts", "policy", "gateway"]),
    "session_runtime": ("cephalon/runtime", ["contracts", "policy", "session_runtime"]),
    "devkit": ("cephalon/devkit", ["contracts", "devkit"]),
}


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse(dockerfile: Path) -> list[Stage]:
    """Stages of a Dockerfile with their instructions (continuations joined)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip()
        elif keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            alias = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, alias))
        else:
            stages[-1].instructions.append((keyword, rest))
    return stages


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [p.strip() for p in lines if p.strip() and not p.startswith("#")]


def ignored(path: str) -> bool:
    parts = path.split("/")
    for pattern in dockerignore():
        pattern = pattern.removeprefix("**/")
        for i in range(len(parts)):
            if fnmatch.fnmatch("/".join(parts[: i + 1]), pattern) or fnmatch.fnmatch(
                "/".join(parts[i : i + 1]), pattern
            ):
                return True
    return False


def scripts(member: str) -> set[str]:
    project = tomllib.loads((ROOT / member / "pyproject.toml").read_text())
    return set(project["project"].get("scripts", {}))


def workspace_deps(member: str) -> set[str]:
    """The member and every workspace member it depends on, as folder names."""
    folders = {
        tomllib.loads((ROOT / f / "pyproject.toml").read_text())["project"]["name"]: f
        for f in ("contracts", "policy", "operator", "gateway", "session_runtime", "devkit")
    }
    seen: set[str] = set()
    todo = [member]
    while todo:
        folder = todo.pop()
        if folder in seen:
            continue
        seen.add(folder)
        project = tomllib.loads((ROOT / folder / "pyproject.toml").read_text())
        for dep in project["project"].get("dependencies", []):
            name = re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0]
            if name in folders:
                todo.append(folders[name])
    return seen


@pytest.mark.parametrize("member", sorted(IMAGES))
def test_copy_sources_exist_in_the_build_context(member: str) -> None:
    stages = parse(ROOT / member / "Dockerfile")
    aliases = {s.name for s in stages if s.name}
    copied: list[str] = []
    for stage in stages:
        for keyword, rest in stage.instructions:
            if keyword not in ("COPY", "ADD"):
                continue
            assert keyword == "COPY", f"{member}: use COPY, not ADD"
            words = rest.split()
            flags = [w for w in words if w.startswith("--")]
            paths = [w for w in words if not w.startswith("--")]
            source_stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from")), None)
            if source_stage:
                assert source_stage in aliases, f"{member}: COPY --from={source_stage}"
                continue
            for source in paths[:-1]:
                copied.append(source)
                assert (ROOT / source).exists(), f"{member}/Dockerfile: COPY {source} is missing"
                assert not ignored(source), f"{member}/Dockerfile: {source} is in .dockerignore"
    # Exactly the member and the workspace members it depends on are installed.
    sources = {c for c in copied if (ROOT / c / "pyproject.toml").exists()}
    assert sources == set(IMAGES[member][1]) == workspace_deps(member)
    assert f"{member}/requirements.lock" in copied


@pytest.mark.parametrize("member", sorted(IMAGES))
def test_the_final_stage_runs_as_a_non_root_numeric_user(member: str) -> None:
    final = parse(ROOT / member / "Dockerfile")[-1]
    users = [rest for keyword, rest in final.instructions if keyword == "USER"]
    assert users, f"{member}: the final stage sets no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid == "10001" and gid in ("", "10001")  # numeric: runAsNonRoot can verify it
    assert final.base.startswith("python:3.11-slim")


@pytest.mark.parametrize("member", sorted(IMAGES))
def test_base_images_are_bare_names(member: str) -> None:
    for stage in parse(ROOT / member / "Dockerfile"):
        first = stage.base.split("/")[0]
        assert "/" not in stage.base or not re.search(r"[.:]", first), stage.base


@pytest.mark.parametrize("member", sorted(IMAGES))
def test_entry_points_are_console_scripts_of_the_member(member: str) -> None:
    stages = parse(ROOT / member / "Dockerfile")
    final = stages[-1]
    commands = [rest for k, rest in final.instructions if k in ("ENTRYPOINT", "CMD")]
    assert commands
    first = yaml.safe_load(commands[0])[0]
    available = scripts(member)
    if first == "python":
        module = yaml.safe_load(commands[0])[2]
        assert (ROOT / member / "src" / Path(*module.split("."))).is_dir()
    else:
        assert first in available, f"{member}: {first} is not a console script"
    # Every script the build stage smoke-tests (`<script> --help`) exists.
    runs = " ".join(rest for s in stages for k, rest in s.instructions if k == "RUN")
    for script in re.findall(r"/opt/venv/bin/(cephalon-[a-z-]+) --help", runs):
        assert script in available, f"{member}: {script}"
    if member == "gateway":
        assert {"cephalon-gateway", "cephalon-model-gateway"} <= set(
            re.findall(r"/opt/venv/bin/(cephalon-[a-z-]+) --help", runs)
        )


@pytest.mark.parametrize("member", sorted(IMAGES))
def test_each_image_has_a_pinned_hashed_url_free_lock(member: str) -> None:
    lock = (ROOT / member / "requirements.lock").read_text()
    assert "://" not in lock
    requirements = re.findall(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)", lock, flags=re.MULTILINE)
    assert requirements
    blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", lock.strip())
    for block in blocks:
        assert "--hash=sha256:" in block, block.splitlines()[0]
    pinned = {re.sub(r"[-_.]+", "-", name).lower() for name, _ in requirements}
    assert not pinned & {"cephalon-contracts", "cephalon-policy", "cephalon-operator"}
    for folder in workspace_deps(member):
        project = tomllib.loads((ROOT / folder / "pyproject.toml").read_text())
        for dep in project["project"].get("dependencies", []):
            name = re.sub(r"[-_.]+", "-", re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0]).lower()
            if not name.startswith("cephalon-"):
                assert name in pinned, f"{member}/requirements.lock lacks {name}: run make lock"
    for dev_only in ("pytest", "ruff", "mypy", "helm-python-sdk"):
        assert dev_only not in pinned, f"{member}: dev dependency {dev_only} in the image lock"


def test_the_runtime_image_pins_the_copilot_cli_matching_the_sdk() -> None:
    package = (ROOT / "tools" / "copilot" / "package.json").read_text()
    assert '"@github/copilot": "1.0.102"' in package
    lock = (ROOT / "session_runtime" / "requirements.lock").read_text()
    assert re.search(r"^github-copilot-sdk==1\.0\.25 ", lock, flags=re.MULTILINE)
    dockerfile = (ROOT / "session_runtime" / "Dockerfile").read_text()
    assert (
        "npm ci" in dockerfile and "CEPHALON_COPILOT__CLI_PATH=/opt/copilot/copilot" in dockerfile
    )


def test_chart_defaults_name_the_images_the_dockerfiles_build() -> None:
    values = yaml.safe_load((ROOT / "charts" / "cephalon" / "values.yaml").read_text())
    assert values["operator"]["image"]["repository"] == IMAGES["operator"][0]
    assert values["images"]["gateway"]["repository"] == IMAGES["gateway"][0]
    assert values["images"]["runtime"]["repository"] == IMAGES["session_runtime"][0]
    for member, (image, _) in IMAGES.items():
        assert f"-t {image}:" in (ROOT / member / "Dockerfile").read_text()
