"""kopf handlers: thin adapters from kopf's calls to the reconcilers.

Registered on an explicit registry by :func:`register` (nothing happens at import).
Indexes hold the actual state the handlers need (tenants by name, sessions per
tenant), so no handler lists objects itself.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cephalon_contracts.resources import GROUP, VERSION, ProviderTenantSpec, SessionPhase

from .builders.common import LABEL_COMPONENT
from .builders.session import SessionContext
from .builders.tenant import TenantContext
from .credentials import SessionRef, revoke_session_credentials
from .deps import Deps
from .errors import KubeError, SpecError
from .kube import KubeClient
from .metrics import Metrics
from .names import session_pod_name
from .sessions import SLOT_PHASES, SessionReconciler, observe, observed_status, parse_spec
from .settings import OperatorSettings
from .tenants import delete_access_users, observe_tenant, parse_tenant, reconcile_tenant

SESSIONS = (GROUP, VERSION, "agentsessions")
TENANTS = (GROUP, VERSION, "providertenants")
Logger = logging.Logger | logging.LoggerAdapter[Any]
Obj = dict[str, Any]


def _deps(memo: kopf.Memo) -> Deps:
    deps: Deps = memo["deps"]
    return deps


def _tenant_from_index(
    index: kopf.Index[Any, Any], provider: str, tenant: str
) -> tuple[str, ProviderTenantSpec] | None:
    for name, spec in index.get((provider, tenant), []):
        try:
            return name, parse_tenant(spec)
        except SpecError:
            return None
    return None


def _transient(e: KubeError) -> kopf.TemporaryError:
    return kopf.TemporaryError(f"Kubernetes API: {e}", delay=2 if e.transient else 10)


def register(registry: kopf.OperatorRegistry, config: OperatorSettings) -> None:  # noqa: C901
    """Register every handler of the operator on ``registry``."""

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        """In-cluster service account first, then KUBECONFIG (kopf's own readers)."""
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup(registry=registry)
    async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        settings.persistence.finalizer = "cephalon.dev/finalizer"
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
            prefix="kopf.cephalon.dev"
        )
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix="kopf.cephalon.dev"
        )
        settings.posting.level = logging.INFO
        settings.posting.loggers = False  # Events only through kopf.info/warn/event
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.watching.connect_timeout = 10
        settings.networking.request_timeout = 30
        settings.queueing.error_delays = [1, 2, 5, 10, 30]
        password_file = config.redis.password_file
        password = password_file.read_text().strip() if password_file else None
        # A blocking pool waits for a free connection instead of failing a burst of
        # reconciles with "Too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            config.redis.url,
            username=config.redis.username,
            password=password,
            decode_responses=True,
            max_connections=config.redis.max_connections,
            timeout=20,
        )
        redis = aioredis.Redis(connection_pool=pool)
        memo["deps"] = Deps(
            settings=config,
            kube=await KubeClient.from_environment(),
            redis=redis,
            metrics=memo.get("metrics") or Metrics(),
        )

    @kopf.on.cleanup(registry=registry)
    async def close(memo: kopf.Memo, **_: Any) -> None:
        deps = memo.get("deps")
        if isinstance(deps, Deps):
            await deps.kube.close()
            await deps.redis.aclose()

    # ------------------------------------------------------------------ indexes

    @kopf.index(*TENANTS, id="tenant_index", registry=registry)
    def tenant_index(
        name: str, spec: kopf.Spec, **_: Any
    ) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
        return {(str(spec.get("provider")), str(spec.get("tenant"))): (name, dict(spec))}

    @kopf.index(*SESSIONS, id="session_index", registry=registry)
    def session_index(
        name: str, spec: kopf.Spec, status: kopf.Status, **_: Any
    ) -> dict[tuple[str, str], tuple[str, str, str]]:
        owner = str((spec.get("owner") or {}).get("id", ""))
        key = (str(spec.get("provider")), str(spec.get("tenant")))
        return {key: (name, owner, str(status.get("phase") or "Pending"))}

    @kopf.index(
        "", "v1", "pods", labels={LABEL_COMPONENT: "session"}, id="session_pods", registry=registry
    )
    def session_pods(
        namespace: str | None, name: str, status: kopf.Status, **_: Any
    ) -> dict[tuple[str | None, str], Obj]:
        """Session pods' status as the watch delivers it, so the 1 s status timer of
        every session reads memory, not the API server."""
        return {(namespace, name): {"status": dict(status)}}

    # ------------------------------------------------------------------ sessions

    @kopf.on.create(*SESSIONS, registry=registry)
    @kopf.on.resume(*SESSIONS, registry=registry)
    @kopf.on.update(*SESSIONS, registry=registry)
    async def session_changed(
        body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Logger, **kwargs: Any
    ) -> None:
        deps = _deps(memo)
        spec = body.spec
        key = (str(spec.get("provider")), str(spec.get("tenant")))
        for name, owner, phase in kwargs["session_index"].get(key, []):
            if phase in SLOT_PHASES and name != body.metadata["name"]:
                deps.admissions.active[key].setdefault(name, owner)
        reconciler = SessionReconciler(deps, body, patch, logger)
        try:
            await reconciler.reconcile(_tenant_from_index(kwargs["tenant_index"], *key))
            deps.metrics.reconciles.labels("AgentSession", "ok").inc()
        except KubeError as e:
            deps.metrics.reconciles.labels("AgentSession", "retry").inc()
            raise _transient(e) from e
        except RedisError as e:
            deps.metrics.reconciles.labels("AgentSession", "retry").inc()
            raise kopf.TemporaryError(f"Redis: {e}", delay=2) from e

    @kopf.on.delete(*SESSIONS, registry=registry)
    async def session_deleted(
        body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Logger, **kwargs: Any
    ) -> None:
        """The finalizer: credentials are revoked before the object may disappear."""
        deps = _deps(memo)
        try:
            spec = parse_spec(body.spec)
        except SpecError:
            return  # never admitted, nothing issued
        tenant = _tenant_from_index(kwargs["tenant_index"], spec.provider, spec.tenant)
        reconciler = SessionReconciler(deps, body, patch, logger)
        try:
            if tenant is None:
                ref = SessionRef(
                    spec.provider, spec.tenant, body.metadata["name"], deps.settings.topic_root
                )
                await revoke_session_credentials(deps.redis, ref, None)
                return
            ctx = SessionContext(
                body.metadata["name"],
                body.metadata["namespace"],
                body.metadata["uid"],
                spec,
                tenant[1],
                deps.settings,
            )
            await reconciler.teardown(ctx)
        except KubeError as e:
            raise _transient(e) from e
        except RedisError as e:
            raise kopf.TemporaryError(f"Redis: {e}", delay=2) from e

    @kopf.timer(*SESSIONS, interval=config.status_interval_seconds, registry=registry)
    async def session_observe(
        body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: Logger, **kwargs: Any
    ) -> None:
        """Status from the pod and the heartbeat, at most once per interval; idle suspension."""
        deps = _deps(memo)
        try:
            phase = SessionPhase(body.status.get("phase") or "Pending")
            spec = parse_spec(body.spec)
        except (ValueError, SpecError):
            return
        if phase not in SLOT_PHASES:
            return
        tenant = _tenant_from_index(kwargs["tenant_index"], spec.provider, spec.tenant)
        if tenant is None:
            return
        name, namespace = body.metadata["name"], body.metadata["namespace"]
        reconciler = SessionReconciler(deps, body, patch, logger)
        ctx = SessionContext(name, namespace, body.metadata["uid"], spec, tenant[1], deps.settings)
        try:
            pods = kwargs["session_pods"].get((namespace, session_pod_name(name)), [])
            pod = next(iter(pods), None)
            if pod is None:  # not seen yet, or deleted behind our back: check and recreate
                await reconciler.run(ctx, phase)
                return
            seen = await observe(deps, spec, name, pod)
            stale_after = deps.settings.heartbeat_stale_seconds
            update, idle = observed_status(spec, tenant[1], body.status, seen, stale_after)
            if idle:
                await reconciler.suspend(
                    ctx, reason="Idle", message="Suspended after no turns for the idle timeout."
                )
                return
            for key, value in update.items():
                patch.status[key] = value
            if update:
                deps.metrics.status_writes.labels("AgentSession").inc()
            if "phase" in update:
                kopf.info(body, reason=update["reason"], message=update["message"])
        except KubeError as e:
            raise _transient(e) from e
        except RedisError as e:
            raise kopf.TemporaryError(f"Redis: {e}", delay=2) from e

    # ------------------------------------------------------------------ tenants

    @kopf.on.create(*TENANTS, registry=registry)
    @kopf.on.resume(*TENANTS, registry=registry)
    @kopf.on.update(*TENANTS, registry=registry)
    async def tenant_changed(
        body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **kwargs: Any
    ) -> None:
        deps = _deps(memo)
        try:
            spec = parse_tenant(body.spec)
        except SpecError as e:
            raise kopf.PermanentError(e.message) from e
        ctx = TenantContext(body.metadata["name"], body.metadata["uid"], spec, deps.settings)
        try:
            await reconcile_tenant(deps, ctx)
            phases = [
                p for _, _, p in kwargs["session_index"].get((spec.provider, spec.tenant), [])
            ]
            for key, value in (await observe_tenant(deps, ctx, body.status, phases)).items():
                patch.status[key] = value
            patch.status["observedGeneration"] = body.metadata.get("generation")
            kopf.info(
                body,
                reason="Reconciled",
                message=f"Tenant footprint in {ctx.namespace} is in place.",
            )
            deps.metrics.reconciles.labels("ProviderTenant", "ok").inc()
        except KubeError as e:
            deps.metrics.reconciles.labels("ProviderTenant", "retry").inc()
            raise _transient(e) from e
        except RedisError as e:
            raise kopf.TemporaryError(f"Redis: {e}", delay=2) from e

    @kopf.timer(*TENANTS, interval=10, registry=registry)
    async def tenant_observe(
        body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **kwargs: Any
    ) -> None:
        deps = _deps(memo)
        if body.status.get("observedGeneration") != body.metadata.get("generation"):
            return  # not reconciled yet: the change handler writes the first status
        try:
            spec = parse_tenant(body.spec)
        except SpecError:
            return
        ctx = TenantContext(body.metadata["name"], body.metadata["uid"], spec, deps.settings)
        phases = [p for _, _, p in kwargs["session_index"].get((spec.provider, spec.tenant), [])]
        try:
            for key, value in (await observe_tenant(deps, ctx, body.status, phases)).items():
                patch.status[key] = value
        except KubeError as e:
            raise _transient(e) from e
        except RedisError as e:
            raise kopf.TemporaryError(f"Redis: {e}", delay=2) from e

    @kopf.on.delete(*TENANTS, registry=registry)
    async def tenant_deleted(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        try:
            spec = parse_tenant(body.spec)
        except SpecError:
            return
        await delete_access_users(_deps(memo), spec)
