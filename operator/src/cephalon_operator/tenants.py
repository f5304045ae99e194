"""ProviderTenant reconciliation: the session namespace and the access layer.

Children carry an ownerReference to the tenant, so deleting the tenant garbage-
collects them; the Redis users of the access layer are deleted by the finalizer.
Credentials are checked for presence of the required keys only: values are never
read into logs, events or status.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError

from cephalon_contracts.resources import ProviderTenantSpec

from .builders.tenant import (
    TenantContext,
    build_gateway_deployment,
    build_gateway_rbac,
    build_limit_range,
    build_model_gateway_deployment,
    build_namespace,
    build_network_policies,
    build_policy_configmap,
    build_resource_quota,
    build_service,
    build_service_account,
)
from .credentials import apply_access_user, delete_user
from .deps import Deps
from .errors import AlreadyExists, SpecError
from .kube import CONFIGMAPS, DEPLOYMENTS, NAMESPACES, SECRETS
from .status import condition, merge_conditions

Obj = dict[str, Any]
ACCESS_COMPONENTS = ("gateway", "model-gateway")


def parse_tenant(spec: Mapping[str, Any]) -> ProviderTenantSpec:
    try:
        return ProviderTenantSpec.model_validate(dict(spec))
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
        raise SpecError("InvalidSpec", f"The tenant's spec is invalid: {problems}") from e


def access_username(component: str, provider: str, tenant: str) -> str:
    return f"{component}:{provider}:{tenant}"


async def reconcile_tenant(deps: Deps, ctx: TenantContext) -> None:
    """Create or repair everything the tenant needs. Safe to repeat."""
    kube = deps.kube
    await kube.ensure(build_namespace(ctx))
    for manifest in (
        build_resource_quota(ctx),
        build_limit_range(ctx),
        *build_network_policies(ctx),
    ):
        await kube.ensure(manifest)
    await kube.ensure(build_policy_configmap(ctx, await policy_files(deps, ctx)))
    for component in ACCESS_COMPONENTS:
        await ensure_access_user(deps, ctx, component)
        await kube.ensure(build_service_account(ctx, component))
        await kube.ensure(build_service(ctx, component))
    for manifest in build_gateway_rbac(ctx):
        await kube.ensure(manifest)
    await kube.ensure(build_gateway_deployment(ctx))
    await kube.ensure(build_model_gateway_deployment(ctx))


async def policy_files(deps: Deps, ctx: TenantContext) -> dict[str, str]:
    """The tenant's policy ConfigMaps flattened into one ``data`` map for the session
    namespace: ``RULES.md``, ``AGENTS.md`` and ``skill.<name>.md`` keys."""
    files: dict[str, str] = {}
    refs = ctx.spec.policy
    release = deps.settings.release_namespace
    for kind, name in (
        ("rules", refs.rules_config_map),
        ("agents", refs.agents_config_map),
        ("skills", refs.skills_config_map),
    ):
        if not name:
            continue
        config_map = await deps.kube.get(CONFIGMAPS, name, release)
        data: Mapping[str, str] = (config_map or {}).get("data") or {}
        if kind == "rules" and "RULES.md" in data:
            files["RULES.md"] = data["RULES.md"]
        elif kind == "agents" and "AGENTS.md" in data:
            files["AGENTS.md"] = data["AGENTS.md"]
        elif kind == "skills":
            files |= {f"skill.{key.removesuffix('.md')}.md": text for key, text in data.items()}
    return files


async def ensure_access_user(deps: Deps, ctx: TenantContext, component: str) -> None:
    """A Redis user for the tenant's gateway or model gateway, with its password kept in
    a Secret in the release namespace (created once, re-applied to Redis every time)."""
    name = ctx.object_name(f"{component}-redis")
    namespace = deps.settings.release_namespace
    username = access_username(component, ctx.spec.provider, ctx.spec.tenant)
    secret = await deps.kube.get(SECRETS, name, namespace)
    if secret is None:
        manifest = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": ctx.meta(name, namespace, component),
            "data": {
                "username": base64.b64encode(username.encode()).decode(),
                "password": base64.b64encode(secrets.token_urlsafe(32).encode()).decode(),
            },
        }
        try:
            secret = await deps.kube.create(SECRETS, manifest)
        except AlreadyExists:
            secret = await deps.kube.get(SECRETS, name, namespace)
    data = (secret or {}).get("data") or {}
    if "password" not in data:
        raise kopf.TemporaryError(f"Secret {namespace}/{name} has no password yet", delay=5)
    password = base64.b64decode(data["password"]).decode()
    await apply_access_user(
        deps.redis, username, ctx.spec.provider, ctx.spec.tenant, password, deps.settings.topic_root
    )


async def delete_access_users(deps: Deps, spec: ProviderTenantSpec) -> None:
    for component in ACCESS_COMPONENTS:
        await delete_user(deps.redis, access_username(component, spec.provider, spec.tenant))


async def observe_tenant(
    deps: Deps, ctx: TenantContext, status: Mapping[str, Any], session_phases: Iterable[str]
) -> Obj:
    """Conditions and session counts from what exists; returns the status update."""
    moment = datetime.now(UTC)
    kube, release = deps.kube, deps.settings.release_namespace
    namespace = await kube.get(NAMESPACES, ctx.namespace)
    ns_ok = (
        bool(namespace) and (namespace or {}).get("status", {}).get("phase", "Active") == "Active"
    )
    cred_ok, cred_msg = await _secret_has_keys(
        deps,
        ctx.spec.credentials_secret_ref.name,
        [
            ctx.spec.credentials_secret_ref.bot_token_key,
            ctx.spec.credentials_secret_ref.public_key_key,
            ctx.spec.credentials_secret_ref.app_id_key,
        ],
    )
    model_ref = ctx.spec.models.provider_secret_ref
    if cred_ok and model_ref is not None:
        cred_ok, cred_msg = await _secret_has_keys(deps, model_ref.name, [model_ref.key])
    gateways = {}
    for component in ACCESS_COMPONENTS:
        deployment = await kube.get(DEPLOYMENTS, ctx.object_name(component), release)
        wanted = (deployment or {}).get("spec", {}).get("replicas", 1)
        ready = (deployment or {}).get("status", {}).get("readyReplicas", 0) or 0
        gateways[component] = (ready >= min(wanted, 1), f"{ready}/{wanted} replicas ready")
    all_ok = ns_ok and cred_ok and all(ok for ok, _ in gateways.values())
    gateway_ok, gateway_msg = gateways["gateway"]
    model_ok, model_msg = gateways["model-gateway"]
    ns_msg = f"Session namespace {ctx.namespace} " + ("is active." if ns_ok else "is missing.")
    conditions = merge_conditions(
        status.get("conditions"),
        [
            condition("NamespaceReady", ns_ok, "Active" if ns_ok else "Missing", ns_msg, moment),
            condition(
                "CredentialsValid", cred_ok, _reason(cred_ok, "Valid", "Invalid"), cred_msg, moment
            ),
            condition("GatewayReady", gateway_ok, _reason(gateway_ok), gateway_msg, moment),
            condition("ModelGatewayReady", model_ok, _reason(model_ok), model_msg, moment),
            condition(
                "Ready",
                all_ok,
                _reason(all_ok),
                "The tenant is serving." if all_ok else "See the other conditions.",
                moment,
            ),
        ],
    )
    phases = list(session_phases)
    counts = {
        "active": sum(p in ("Provisioning", "Ready", "Running", "Idle") for p in phases),
        "suspended": sum(p == "Suspended" for p in phases),
    }
    update: Obj = {}
    if conditions != status.get("conditions"):
        update["conditions"] = conditions
    if counts != status.get("sessions"):
        update["sessions"] = counts
    if status.get("namespace") != ctx.namespace:
        update["namespace"] = ctx.namespace
    return update


async def _secret_has_keys(deps: Deps, name: str, keys: list[str]) -> tuple[bool, str]:
    namespace = deps.settings.release_namespace
    secret = await deps.kube.get(SECRETS, name, namespace)
    if secret is None:
        return False, f"Secret {namespace}/{name} does not exist."
    data: Mapping[str, str] = secret.get("data") or {}
    missing = [key for key in keys if not data.get(key)]
    if missing:
        return False, f"Secret {namespace}/{name} lacks the key(s) {', '.join(missing)}."
    return True, f"Secret {namespace}/{name} has every required key."


def _reason(ok: bool, good: str = "Ready", bad: str = "NotReady") -> str:
    return good if ok else bad
