"""AgentSession reconciliation: from spec and what exists to a pod and a status.

Every function here is safe to repeat and works from what exists: the pod, the
session Secret and the runtime's heartbeat are read, never remembered. Status is
written only through the ``patch`` kopf hands in (or ``/status`` merge patches), never
the spec.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError

from cephalon_contracts.events import Usage
from cephalon_contracts.heartbeat import Heartbeat
from cephalon_contracts.keys import heartbeat_key, usage_key
from cephalon_contracts.resources import (
    AgentSessionSpec,
    ProviderTenantSpec,
    SessionPhase,
    SessionState,
    parse_duration,
)

from .builders.session import (
    SECRET_KEYS,
    SessionContext,
    UnknownMcpServerError,
    build_session_pod,
    build_session_secret,
    build_workspace_pvc,
)
from .credentials import (
    SessionCredentials,
    SessionRef,
    apply_session_credentials,
    new_session_credentials,
    revoke_session_credentials,
)
from .deps import Deps, TenantKey
from .errors import AlreadyExists, KubeError, SpecError
from .kube import AGENT_SESSIONS, PODS, PVCS, SECRETS
from .names import session_pod_name, session_secret_name
from .podsecurity import restricted_violations
from .status import conditions_changed, merge_conditions, pod_conditions, rfc3339

Obj = dict[str, Any]
WAKE_ANNOTATION = "cephalon.dev/wake"
SLOT_PHASES = {
    SessionPhase.PROVISIONING,
    SessionPhase.READY,
    SessionPhase.RUNNING,
    SessionPhase.IDLE,
}
TERMINAL = {SessionPhase.ENDED, SessionPhase.FAILED}


def parse_spec(spec: Mapping[str, Any]) -> AgentSessionSpec:
    try:
        return AgentSessionSpec.model_validate(dict(spec))
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
        raise SpecError("InvalidSpec", f"The session's spec is invalid: {problems}") from e


def now() -> datetime:
    return datetime.now(UTC)


def _phase(status: Mapping[str, Any]) -> SessionPhase:
    try:
        return SessionPhase(status.get("phase") or SessionPhase.PENDING)
    except ValueError:
        return SessionPhase.PENDING


def _set_status(patch: kopf.Patch, **fields: Any) -> None:
    for key, value in fields.items():
        patch.status[key] = value


def _woken_since_suspension(annotations: Mapping[str, str], status: Mapping[str, Any]) -> bool:
    wake = annotations.get(WAKE_ANNOTATION) or ""
    suspended_at = str(status.get("suspendedAt") or "")
    return bool(wake) and wake > suspended_at


class SessionReconciler:
    """Reconciles one AgentSession; built per handler call from kopf's arguments."""

    def __init__(
        self,
        deps: Deps,
        body: kopf.Body,
        patch: kopf.Patch,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
    ) -> None:
        self.deps = deps
        self.body = body
        self.patch = patch
        self.logger = logger
        self.name: str = body.metadata["name"]
        self.namespace: str = body.metadata["namespace"]
        self.uid: str = body.metadata["uid"]
        self.status: Mapping[str, Any] = body.status

    # -- entry points ------------------------------------------------------------------

    async def reconcile(self, tenant: tuple[str, ProviderTenantSpec] | None) -> None:
        try:
            spec = parse_spec(self.body.spec)
        except SpecError as e:
            self._fail(e.reason, e.message)
            raise kopf.PermanentError(e.message) from e
        phase = _phase(self.status)
        if phase in TERMINAL and spec.lifecycle.state != SessionState.ENDED:
            return  # a failed or ended session stays so; create a new one
        if tenant is None:
            _set_status(
                self.patch,
                phase=SessionPhase.PENDING.value,
                reason="TenantNotFound",
                message=f"No ProviderTenant for {spec.provider}/{spec.tenant} yet.",
            )
            raise kopf.TemporaryError(f"tenant {spec.provider}/{spec.tenant} not found", delay=10)
        ctx = SessionContext(
            self.name, self.namespace, self.uid, spec, tenant[1], self.deps.settings
        )
        state = spec.lifecycle.state
        if state == SessionState.ENDED:
            await self.end(ctx, reason="Ended", message="The session was ended.")
        elif state == SessionState.SUSPENDED:
            await self.suspend(ctx, reason="Suspended", message="The session was suspended.")
        elif (
            phase == SessionPhase.SUSPENDED
            and not _woken_since_suspension(self.body.metadata.annotations, self.status)
            and self.status.get("reason") == "Idle"
        ):
            return  # idle-suspended: the next turn's wake annotation resumes it
        else:
            await self.run(ctx, phase)

    async def run(self, ctx: SessionContext, phase: SessionPhase) -> None:
        """Make sure credentials, workspace and pod exist; report Provisioning."""
        kube = self.deps.kube
        pod_name = session_pod_name(self.name)
        pod = await kube.get(PODS, pod_name, self.namespace)
        if pod is not None and (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
            reason = (pod.get("status") or {}).get("reason") or "PodTerminated"
            if reason == "DeadlineExceeded":
                await self.end(
                    ctx,
                    reason="MaxDurationExceeded",
                    message="The session reached its maximum duration.",
                )
                return
            await kube.delete(PODS, pod_name, self.namespace)
            pod = None
        if pod is not None:
            return
        key: TenantKey = (ctx.spec.provider, ctx.spec.tenant)
        async with self.deps.admissions.locks[key]:
            refusal = self._quota_refusal(ctx)
            if refusal:
                self._fail("QuotaExceeded", refusal)
                kopf.warn(self.body, reason="QuotaExceeded", message=refusal)
                return
            self.deps.admissions.active[key][self.name] = ctx.spec.owner.id
        await self.ensure_credentials(ctx)
        pvc = build_workspace_pvc(ctx)
        if pvc is not None:
            await kube.ensure(pvc, update=False)
        try:
            manifest = build_session_pod(ctx)
        except UnknownMcpServerError as e:
            self.deps.admissions.release(key, self.name)
            self._fail("UnknownMcpServer", str(e))
            raise kopf.PermanentError(str(e)) from e
        violations = restricted_violations(manifest)
        if violations:  # a builder bug must never reach the API server
            raise kopf.PermanentError(f"session pod is not restricted: {violations}")
        try:
            await kube.create(PODS, manifest)
            kopf.info(self.body, reason="PodCreated", message=f"Created session pod {pod_name}.")
        except AlreadyExists:
            pass
        started = self.status.get("startedAt") or rfc3339(now())
        _set_status(
            self.patch,
            phase=SessionPhase.PROVISIONING.value,
            reason="PodCreated",
            message="Starting the session's sandbox.",
            podName=pod_name,
            startedAt=started,
            observedGeneration=self.body.metadata.get("generation"),
        )

    def _quota_refusal(self, ctx: SessionContext) -> str | None:
        key: TenantKey = (ctx.spec.provider, ctx.spec.tenant)
        active = dict(self.deps.admissions.active[key])
        active.pop(self.name, None)
        sessions = ctx.tenant.sessions
        if len(active) >= sessions.max_concurrent:
            return (
                f"This workspace already runs {len(active)} sessions, the most it allows."
                " End one of them (/end) or try again later."
            )
        mine = sum(1 for owner in active.values() if owner == ctx.spec.owner.id)
        if mine >= sessions.max_per_user:
            return (
                f"You already have {mine} running sessions, the most one person may have."
                " End one of them (/end) first."
            )
        return None

    async def ensure_credentials(self, ctx: SessionContext) -> SessionCredentials:
        """Create the session Secret once; (re-)apply its credentials to Redis every time."""
        ref = self._ref(ctx)
        secret = await self.deps.kube.get(SECRETS, session_secret_name(self.name), self.namespace)
        if secret is None:
            fresh = new_session_credentials(ref)
            manifest = build_session_secret(
                ctx,
                redis_username=fresh.redis_username,
                redis_password=fresh.redis_password,
                model_token=fresh.model_token,
            )
            try:
                secret = await self.deps.kube.create(SECRETS, manifest)
            except AlreadyExists:
                secret = await self.deps.kube.get(
                    SECRETS, session_secret_name(self.name), self.namespace
                )
                if secret is None:
                    raise kopf.TemporaryError(
                        "session Secret vanished while creating it", delay=1
                    ) from None
        credentials = _credentials_from_secret(secret)
        await apply_session_credentials(self.deps.redis, ref, credentials)
        return credentials

    async def suspend(self, ctx: SessionContext, *, reason: str, message: str) -> None:
        """Delete the pod, keep the workspace claim and the credentials."""
        if await self.deps.kube.delete(PODS, session_pod_name(self.name), self.namespace):
            kopf.info(self.body, reason="Suspended", message=message)
        self.deps.admissions.release((ctx.spec.provider, ctx.spec.tenant), self.name)
        _set_status(
            self.patch,
            phase=SessionPhase.SUSPENDED.value,
            reason=reason,
            message=message,
            podName=None,
            suspendedAt=rfc3339(now()),
            conditions=merge_conditions(
                self.status.get("conditions"), pod_conditions(None, None, now(), 0)
            ),
        )

    async def end(self, ctx: SessionContext, *, reason: str, message: str) -> None:
        """Tear everything down and revoke the credentials; the object stays as a record."""
        await self.teardown(ctx)
        kopf.info(self.body, reason="Ended", message=message)
        _set_status(
            self.patch,
            phase=SessionPhase.ENDED.value,
            reason=reason,
            message=message,
            podName=None,
            conditions=merge_conditions(
                self.status.get("conditions"), pod_conditions(None, None, now(), 0)
            ),
        )

    async def teardown(self, ctx: SessionContext) -> None:
        kube = self.deps.kube
        await kube.delete(PODS, session_pod_name(self.name), self.namespace)
        pvc = build_workspace_pvc(ctx)
        if pvc is not None:
            await kube.delete(PVCS, pvc["metadata"]["name"], self.namespace)
        await self.revoke(ctx)
        self.deps.admissions.release((ctx.spec.provider, ctx.spec.tenant), self.name)

    async def revoke(self, ctx: SessionContext) -> None:
        secret_name = session_secret_name(self.name)
        secret = await self.deps.kube.get(SECRETS, secret_name, self.namespace)
        token = _credentials_from_secret(secret).model_token if secret else None
        await revoke_session_credentials(self.deps.redis, self._ref(ctx), token)
        await self.deps.kube.delete(SECRETS, secret_name, self.namespace)

    def _ref(self, ctx: SessionContext) -> SessionRef:
        return SessionRef(
            ctx.spec.provider, ctx.spec.tenant, self.name, self.deps.settings.topic_root
        )

    def _fail(self, reason: str, message: str) -> None:
        _set_status(self.patch, phase=SessionPhase.FAILED.value, reason=reason, message=message)


def _credentials_from_secret(secret: Obj) -> SessionCredentials:
    data: Mapping[str, str] = secret.get("data") or {}
    missing = [key for key in SECRET_KEYS if key not in data]
    if missing:
        raise kopf.TemporaryError(f"session Secret lacks {missing}", delay=5)
    values = {k: base64.b64decode(data[k]).decode() for k in SECRET_KEYS}
    return SessionCredentials(
        values["redis-username"], values["redis-password"], values["model-token"]
    )


# ------------------------------------------------------------------ observing


async def read_heartbeat(deps: Deps, spec: AgentSessionSpec, name: str) -> Heartbeat | None:
    key = heartbeat_key(
        provider=spec.provider, tenant=spec.tenant, session_id=name, root=deps.settings.topic_root
    )
    raw = await deps.redis.get(key)
    if raw is None:
        return None
    try:
        return Heartbeat.model_validate_json(raw)
    except ValidationError:
        return None


@dataclass(frozen=True, slots=True)
class Observation:
    """What exists for a session at one moment."""

    pod: Obj | None
    heartbeat: Heartbeat | None
    metered: Usage | None
    """Token counts the model gateway measured (preferred over the runtime's own)."""
    moment: datetime


async def observe(deps: Deps, spec: AgentSessionSpec, name: str, pod: Obj | None) -> Observation:
    root = deps.settings.topic_root
    counts = await deps.redis.hgetall(
        usage_key(provider=spec.provider, tenant=spec.tenant, session_id=name, root=root)
    )
    metered = (
        Usage(
            input_tokens=int(counts.get("input_tokens", 0)),
            output_tokens=int(counts.get("output_tokens", 0)),
        )
        if counts
        else None
    )
    return Observation(pod, await read_heartbeat(deps, spec, name), metered, now())


def observed_status(
    spec: AgentSessionSpec,
    tenant: ProviderTenantSpec,
    status: Mapping[str, Any],
    seen: Observation,
    stale_after: float,
) -> tuple[Obj, bool]:
    """The status fields that follow from what exists, and whether the session has been
    idle past its timeout (and should be suspended)."""
    pod, heartbeat, moment = seen.pod, seen.heartbeat, seen.moment
    conditions = merge_conditions(
        status.get("conditions"), pod_conditions(pod, heartbeat, moment, stale_after)
    )
    ready = next(c for c in conditions if c["type"] == "Ready")["status"] == "True"
    update: Obj = {}
    if conditions_changed(status.get("conditions"), conditions):
        update["conditions"] = conditions
    phase = _phase(status)
    idle_timeout = parse_duration(spec.lifecycle.idle_timeout or tenant.sessions.idle_timeout)
    last_activity = (heartbeat.last_activity_at if heartbeat else None) or _parse(
        status.get("startedAt")
    )
    idle_for = (moment - last_activity).total_seconds() if last_activity else 0.0
    if ready and phase in SLOT_PHASES:
        if heartbeat and heartbeat.busy:
            new_phase = SessionPhase.RUNNING
        elif idle_for >= idle_timeout / 2:
            new_phase = SessionPhase.IDLE
        else:
            new_phase = SessionPhase.READY
        if new_phase != phase:
            update["phase"] = new_phase.value
            update["reason"] = {"Running": "TurnRunning", "Idle": "NoRecentTurns"}.get(
                new_phase.value, "Ready"
            )
            update["message"] = {
                "Running": "Working on a turn.",
                "Idle": "No recent turns; the session will be suspended when idle for longer.",
            }.get(new_phase.value, "Ready for turns.")
    if heartbeat:
        visible: dict[str, Any] = {
            "lastActivityAt": rfc3339(heartbeat.last_activity_at)
            if heartbeat.last_activity_at
            else None,
            "turns": heartbeat.turns,
            "usage": _usage_status(seen.metered or heartbeat.usage),
            "progress": {
                "turn": heartbeat.progress.turn,
                "step": heartbeat.progress.step,
                "message": heartbeat.progress.message,
            },
        }
        if heartbeat.policy_hash:
            visible["policySnapshot"] = {"hash": heartbeat.policy_hash}
        for key, value in visible.items():
            current = status.get(key)
            if key == "progress" and isinstance(current, dict):
                current = {k: v for k, v in current.items() if k != "updatedAt"}
            if current != value:
                update[key] = value
        if "progress" in update:
            update["progress"] = {**update["progress"], "updatedAt": rfc3339(moment)}
    should_suspend = (
        phase in SLOT_PHASES and idle_for >= idle_timeout and not (heartbeat and heartbeat.busy)
    )
    return update, should_suspend


def _usage_status(usage: Usage) -> Obj:
    return {
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.total_tokens,
    }


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


async def patch_session_status(deps: Deps, namespace: str, name: str, status: Obj) -> None:
    await deps.kube.patch(AGENT_SESSIONS, name, namespace, {"status": status}, sub="status")


__all__ = ["KubeError", "SessionReconciler", "observed_status", "parse_spec", "read_heartbeat"]
