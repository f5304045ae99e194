"""The session's policy: load, keep the last good snapshot, reload on request or change.

The tenant's policy arrives as a mounted ConfigMap with flat keys (``RULES.md``,
``AGENTS.md``, ``skill.<name>.md``); it is rebuilt here as a policy tree
(``RULES.md``, ``AGENTS.md``, ``skills/<name>/SKILL.md``) in a private temporary
directory that :func:`cephalon_policy.load_snapshot` reads like any other root.

At start-up a broken workspace must not leave the session without policy: the first
load falls back to tenant + defaults only, then to hard safety only, and the errors
(each naming file and line) are reported.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from cephalon_contracts.events import RiskLevel
from cephalon_contracts.resources import McpServerSpec, McpTool
from cephalon_policy import (
    PolicyError,
    PolicyFiles,
    PolicyInputs,
    PolicySnapshot,
    ReloadResult,
    RiskConfig,
    SessionOverrides,
    SnapshotHolder,
    build_snapshot,
    load_snapshot,
)

from .settings import McpServerSetting, RuntimeSettings

log = structlog.get_logger("cephalon_runtime.policy")

SKILL_PREFIX = "skill."


def tenant_fingerprint(directory: Path | None) -> str:
    """A digest of the ConfigMap's keys and contents (changes when it is updated)."""
    if directory is None or not directory.is_dir():
        return ""
    digest = hashlib.sha256()
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        digest.update(entry.name.encode() + b"\0")
        digest.update(entry.read_bytes()[: 64 * 1024] + b"\0")
    return digest.hexdigest()


def rebuild_tenant_tree(configmap: Path, target: Path) -> None:
    """Lay the ConfigMap's flat keys out as a policy tree under ``target``."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    if not configmap.is_dir():
        return
    for entry in sorted(configmap.iterdir()):
        if entry.name.startswith(".") or not entry.is_file():
            continue  # ConfigMap mounts keep ..data and timestamped folders hidden
        if entry.name in {"RULES.md", "AGENTS.md"}:
            shutil.copyfile(entry, target / entry.name)
        elif entry.name.startswith(SKILL_PREFIX) and entry.name.endswith(".md"):
            name = entry.name[len(SKILL_PREFIX) : -len(".md")]
            folder = target / "skills" / name
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(entry, folder / "SKILL.md")


def materialize_skills(snapshot: PolicySnapshot, target: Path) -> None:
    """Write the snapshot's skills (already merged: tenant over workspace over defaults)
    as ``<target>/<name>/SKILL.md`` for the engine's own skill loader."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for skill in snapshot.skills:
        lines = ["---", f"name: {json.dumps(skill.name)}"]
        lines.append(f"description: {json.dumps(skill.description)}")
        if skill.allowed_tools:
            lines.append(f"allowed-tools: {json.dumps(list(skill.allowed_tools))}")
        lines += ["---", skill.body]
        folder = target / skill.name
        folder.mkdir()
        (folder / "SKILL.md").write_text("\n".join(lines), encoding="utf-8")


def catalogue(servers: list[McpServerSetting]) -> list[McpServerSpec]:
    """The session's MCP servers as tenant catalogue entries, for the risk layer."""
    return [
        McpServerSpec(
            name=s.name,
            image="sidecar",
            port=1024,
            risk=s.risk,
            tools=[McpTool(name=t, risk=r) for t, r in sorted(s.tools.items())],
        )
        for s in servers
    ]


@dataclass
class PolicyManager:
    settings: RuntimeSettings
    holder: SnapshotHolder = field(default_factory=SnapshotHolder)
    session_risk: dict[str, RiskLevel] = field(default_factory=dict)
    session_instructions: tuple[str, ...] = ()
    _tenant_tree: Path | None = None
    _fingerprint: str = ""

    @property
    def _scratch(self) -> Path:
        if self._tenant_tree is None:
            self._tenant_tree = Path(tempfile.mkdtemp(prefix="cephalon-policy-"))
        return self._tenant_tree

    @property
    def skills_dir(self) -> Path:
        """Where the snapshot's skills are written for the engine (one folder each)."""
        return self._scratch / "skills"

    def _tree(self) -> Path | None:
        source = self.settings.policy.tenant_dir
        if source is None:
            return None
        self._fingerprint = tenant_fingerprint(source)
        rebuild_tenant_tree(source, self._scratch / "tenant")
        return self._scratch / "tenant"

    def _risk(self) -> RiskConfig:
        return RiskConfig(mcp_servers=catalogue(self.settings.mcp.servers))

    def _load(self, *, workspace: bool = True, tenant: Path | None) -> PolicySnapshot:
        ws = self.settings.workspace
        session = SessionOverrides(
            instructions=self.session_instructions, risk=dict(self.session_risk)
        )
        if workspace:
            return load_snapshot(
                ws.path,
                cwd=ws.cwd or None,
                tenant=tenant,
                defaults=self.settings.policy.defaults_dir,
                session=session,
                risk=self._risk(),
                variables={"WORKSPACE": str(ws.path)},
            )
        empty = ws.path / ".cephalon" / "no-workspace-policy"
        return load_snapshot(
            empty, tenant=tenant, defaults=self.settings.policy.defaults_dir,
            session=session, risk=self._risk(),
        )  # fmt: skip

    def reload(self) -> ReloadResult:
        """Load again; keep the last good snapshot on errors. Never leaves none."""
        tenant = self._tree()
        result = self.holder.reload(lambda: self._load(tenant=tenant))
        if self.holder.current is None:
            # first load and the workspace is broken: fall back, but report the errors
            fallback = self.holder.reload(lambda: self._load(workspace=False, tenant=tenant))
            if self.holder.current is None:
                self.holder.reload(lambda: build_snapshot(
                    PolicyInputs(workspace=PolicyFiles("workspace"), risk=self._risk())
                ))  # fmt: skip
            errors = result.errors + fallback.errors
            result = ReloadResult(self.holder.current, True, errors)
        for error in result.errors:
            log.warning("policy_error", error=error.message, code=str(error.error_code))
        if result.changed:
            materialize_skills(self.snapshot, self.skills_dir)
        return result

    def tenant_changed(self) -> bool:
        return tenant_fingerprint(self.settings.policy.tenant_dir) != self._fingerprint

    @property
    def snapshot(self) -> PolicySnapshot:
        current = self.holder.current
        if current is None:
            raise RuntimeError("policy used before it was loaded")
        return current

    def risk_of(self, tool: str) -> RiskLevel:
        return self.snapshot.risk_of(tool)

    def system_message(self) -> str:
        """The instructions; skills reach the engine through :attr:`skills_dir`."""
        return self.snapshot.instructions()

    def close(self) -> None:
        if self._tenant_tree is not None:
            shutil.rmtree(self._tenant_tree, ignore_errors=True)


def describe_errors(errors: tuple[PolicyError, ...]) -> str:
    return "\n".join(f"- {e.message}" for e in errors)
