"""The verbs of the API: create, get, list, replace, patch, delete — without HTTP.

:class:`KubeApi` owns the registry, the store and the garbage collector, and applies
the API server's write semantics in one place so that the HTTP layer, the garbage
collector and the namespace/CRD cleanup all go through the same rules:

- server-set ``uid``, ``creationTimestamp``, ``generateName``; one monotonic
  ``resourceVersion``; ``generation`` bumped only when something other than
  ``metadata`` (and ``status``, for kinds with a status subresource) changes;
- optimistic concurrency: a write carrying a stale ``resourceVersion`` is 409;
- a write that changes nothing is not stored (no new resourceVersion, no event);
- the ``status`` subresource: the main endpoint keeps the stored status, ``/status``
  changes nothing else;
- finalizers and ``deletionTimestamp``: an object with finalizers is only marked, and
  goes away when the last finalizer is removed; no finalizer may be added meanwhile;
- graceful deletion of scheduled pods (the executor finishes it with grace 0).
"""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from typing import Any

import yaml

from .errors import (
    AlreadyExists,
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    UnsupportedMediaType,
    field_error,
)
from .gc import GarbageCollector
from .lifecycle import (
    CRD_CLEANUP_FINALIZER,
    FOREGROUND_FINALIZER,
    WriteContext,
    is_terminating,
    now_rfc3339,
    pending_finalizers,
)
from .patching import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)
from .resources import CRD_KEY, NAMESPACE_KEY, POD_KEY, Registry, ResourceType, type_from_crd
from .selectors import FieldSelector, LabelSelector
from .store import ResourceKey, Store
from .types import DeleteOptions, KubeObject
from .validation import (
    admit_custom,
    crd_status,
    prepare_pod,
    prepare_secret,
    unknown_builtin_fields,
    validate_builtin,
    validate_metadata,
    validate_update,
)

_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_BOOT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _strip_volatile(obj: KubeObject) -> KubeObject:
    meta = {
        k: v
        for k, v in obj.get("metadata", {}).items()
        if k not in ("resourceVersion", "managedFields")
    }
    return {**obj, "metadata": meta}


def _spec_part(obj: KubeObject, with_status: bool) -> dict[str, Any]:
    skip = {"metadata", "apiVersion", "kind"} | ({"status"} if with_status else set())
    return {k: v for k, v in obj.items() if k not in skip}


class KubeApi:
    """One emulated cluster's API, usable in-process (the HTTP server wraps it)."""

    def __init__(self, *, history_size: int = 10_000) -> None:
        self.registry = Registry()
        self.store = Store(history_size=history_size)
        self.gc = GarbageCollector(self)
        for name in _BOOT_NAMESPACES:
            self.create(
                self.rtype(NAMESPACE_KEY), None, {"metadata": {"name": name}}, WriteContext()
            )

    async def start(self) -> None:
        self.gc.start()

    async def stop(self) -> None:
        await self.gc.stop()

    def rtype(self, key: ResourceKey) -> ResourceType:
        rtype = self.registry.by_key(key)
        if rtype is None:
            raise NotFound.path()
        return rtype

    # --- reads -----------------------------------------------------------------------------

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> KubeObject:
        obj = self.store.get(rtype.key, namespace or "", name)
        if obj is None:
            raise NotFound.of(rtype.plural, rtype.group, name)
        return obj

    def list(
        self,
        rtype: ResourceType,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
    ) -> tuple[list[KubeObject], int]:
        """Matching objects and the resourceVersion the list is consistent with."""
        name = fields.name()
        if name is not None and namespace is not None:
            one = self.store.get(rtype.key, namespace, name)
            candidates = [one] if one is not None else []
        else:
            candidates = list(self.store.items(rtype.key, namespace))
        items = [o for o in candidates if labels.matches(o) and fields.matches(o)]
        return items, self.store.resource_version

    # --- create ----------------------------------------------------------------------------

    def create(
        self, rtype: ResourceType, namespace: str | None, body: Any, ctx: WriteContext
    ) -> KubeObject:
        obj = self._decode_body(rtype, body, ctx)
        meta = obj["metadata"]
        self._check_namespace(rtype, namespace, meta)
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = self._generate_name(
                    rtype, namespace or "", str(meta["generateName"])
                )
            else:
                raise Invalid.of(
                    rtype.kind,
                    rtype.group,
                    "",
                    [
                        field_error(
                            "metadata.name",
                            "FieldValueRequired",
                            "Required value: name or generateName is required",
                        )
                    ],
                )
        name = meta["name"]
        if rtype.namespaced:
            self._check_namespace_open(rtype, namespace or "", name)
        if self.store.get(rtype.key, namespace or "", name) is not None:
            raise AlreadyExists.of(rtype.plural, rtype.group, name)
        for volatile in (
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
            "managedFields",
        ):
            meta.pop(volatile, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        if rtype.has_status:
            obj.pop("status", None)  # kinds with a status subresource start without one
        self._prepare_create(rtype, obj)
        self._admit(rtype, obj, None, ctx)
        if rtype.key == CRD_KEY:
            # Established at once: the emulator has no name-conflict controller.
            obj["status"] = crd_status(obj, now_rfc3339())
        if ctx.dry_run:
            return obj
        stored = self.store.put(rtype.key, obj, None)
        self._after_write(rtype, stored)
        for ref in meta.get("ownerReferences") or ():
            if self.store.key_of_uid(ref["uid"]) is None:
                self.gc.owner_gone(ref["uid"])
        return stored

    def _prepare_create(self, rtype: ResourceType, obj: KubeObject) -> None:
        if rtype.key == NAMESPACE_KEY:
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
        elif rtype.key == POD_KEY:
            prepare_pod(obj)
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif rtype.kind == "Secret":
            prepare_secret(obj)
        elif rtype.key == CRD_KEY:
            spec = obj.get("spec")
            if isinstance(spec, dict) and isinstance(spec.get("names"), dict):
                names = spec["names"]
                names.setdefault("singular", str(names.get("kind", "")).lower())
                names.setdefault("listKind", f"{names.get('kind', '')}List")
            finalizers = obj["metadata"].setdefault("finalizers", [])
            if CRD_CLEANUP_FINALIZER not in finalizers:
                finalizers.append(CRD_CLEANUP_FINALIZER)

    def _generate_name(self, rtype: ResourceType, namespace: str, prefix: str) -> str:
        for _ in range(100):
            name = prefix + "".join(secrets.choice(_NAME_CHARS) for _ in range(5))
            if self.store.get(rtype.key, namespace, name) is None:
                return name
        raise AlreadyExists.of(rtype.plural, rtype.group, prefix)

    # --- update ----------------------------------------------------------------------------

    def update(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        ctx: WriteContext,
        subresource: str | None = None,
    ) -> KubeObject:
        old = self.get(rtype, namespace, name)
        obj = self._decode_body(rtype, body, ctx)
        if obj["metadata"].get("name", name) != name:
            raise BadRequest(
                f"the name of the object ({obj['metadata']['name']}) does not match the name on"
                f" the URL ({name})"
            )
        if rtype.namespaced:
            self._check_namespace(rtype, namespace, obj["metadata"])
        self._check_preconditions(rtype, old, obj)
        return self._checked_update(
            rtype, old, self._merge_into_old(rtype, old, obj, subresource), ctx, subresource
        )

    def _checked_update(
        self,
        rtype: ResourceType,
        old: KubeObject,
        new: KubeObject,
        ctx: WriteContext,
        subresource: str | None,
    ) -> KubeObject:
        """A client's write (PUT or PATCH): the strategies' immutability rules apply."""
        if subresource is None:
            errors = validate_update(rtype, new, old)
            if errors:
                raise Invalid.of(rtype.kind, rtype.group, old["metadata"]["name"], errors)
        return self.commit_update(rtype, old, new, ctx)

    def _check_preconditions(self, rtype: ResourceType, old: KubeObject, new: KubeObject) -> None:
        meta, old_meta = new["metadata"], old["metadata"]
        wanted = meta.get("resourceVersion")
        if wanted and str(wanted) != old_meta["resourceVersion"]:
            raise Conflict.modified(rtype.plural, rtype.group, old_meta["name"])
        if meta.get("uid") and meta["uid"] != old_meta["uid"]:
            raise Conflict.precondition(
                rtype.plural,
                rtype.group,
                old_meta["name"],
                f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta:"
                f" {old_meta['uid']}",
            )

    def _merge_into_old(
        self, rtype: ResourceType, old: KubeObject, body: KubeObject, subresource: str | None
    ) -> KubeObject:
        if subresource == "status":
            new = copy.deepcopy(old)
            if "status" in body:
                new["status"] = body["status"]
            else:
                new.pop("status", None)
            return new
        if subresource == "finalize":
            new = copy.deepcopy(old)
            new.setdefault("spec", {})["finalizers"] = (body.get("spec") or {}).get(
                "finalizers"
            ) or []
            return new
        new = body
        if rtype.has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        meta, old_meta = new["metadata"], old["metadata"]
        for kept in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "namespace",
            "name",
        ):
            if kept in old_meta:
                meta[kept] = old_meta[kept]
            else:
                meta.pop(kept, None)
        if rtype.kind == "Secret":
            prepare_secret(new)
        elif rtype.key == POD_KEY:
            prepare_pod(new)  # defaults apply to every decoded body, not only on create
        return new

    def commit_update(
        self, rtype: ResourceType, old: KubeObject, new: KubeObject, ctx: WriteContext
    ) -> KubeObject:
        meta, old_meta = new["metadata"], old["metadata"]
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if is_terminating(old):
            added = [
                f
                for f in meta.get("finalizers") or []
                if f not in (old_meta.get("finalizers") or [])
            ]
            if added:
                raise Invalid.of(
                    rtype.kind,
                    rtype.group,
                    old_meta["name"],
                    [
                        field_error(
                            "metadata.finalizers",
                            "FieldValueForbidden",
                            "Forbidden: no new finalizers can be added if the object is being"
                            f" deleted, found new finalizers {json.dumps(added)}",
                        )
                    ],
                )
        self._admit(rtype, new, old, ctx)
        if _spec_part(new, rtype.has_status) != _spec_part(old, rtype.has_status):
            meta["generation"] = int(old_meta.get("generation") or 0) + 1
        if _strip_volatile(new) == _strip_volatile(old):
            return old
        if ctx.dry_run:
            return new
        if (
            is_terminating(new)
            and not pending_finalizers(rtype.key, new)
            and not meta.get("deletionGracePeriodSeconds")
        ):
            return self._remove(rtype, new)
        stored = self.store.put(rtype.key, new, old)
        self._after_write(rtype, stored)
        return stored

    # --- patch -----------------------------------------------------------------------------

    def patch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        raw: bytes,
        ctx: WriteContext,
        subresource: str | None = None,
    ) -> tuple[KubeObject, bool]:
        """Apply a patch; returns the object and whether it was created (apply only)."""
        media = content_type.split(";")[0].strip().lower()
        if media not in (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH) or (
            media == STRATEGIC_MERGE_PATCH and rtype.custom
        ):
            accepted = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
            if not rtype.custom:
                accepted.insert(2, STRATEGIC_MERGE_PATCH)
            raise UnsupportedMediaType(
                f"the body of the request was in an unknown format - accepted media types"
                f" include: {', '.join(accepted)}"
            )
        try:
            document = yaml.safe_load(raw) if media == APPLY_PATCH else json.loads(raw or b"null")
        except (ValueError, yaml.YAMLError) as e:
            raise BadRequest(f"error decoding patch: {e}") from e
        existing = self.store.get(rtype.key, namespace or "", name)
        if existing is None:
            if media == APPLY_PATCH and subresource is None:
                return self.create(rtype, namespace, document, ctx), True
            raise NotFound.of(rtype.plural, rtype.group, name)
        if media == JSON_PATCH:
            patched = apply_json_patch(existing, document)
        elif media == STRATEGIC_MERGE_PATCH:
            patched = apply_strategic_merge_patch(existing, document)
        else:
            patched = apply_merge_patch(existing, document)
        if not isinstance(patched, dict) or not isinstance(patched.get("metadata"), dict):
            raise BadRequest("the patch produced an object without metadata")
        if patched["metadata"].get("name") != name:
            raise BadRequest(f"the name of the object does not match the name on the URL ({name})")
        self._check_preconditions(rtype, existing, patched)
        if media == APPLY_PATCH:
            patched["metadata"].pop("resourceVersion", None)
        obj = self._decode_body(rtype, patched, ctx)
        merged = self._merge_into_old(rtype, existing, obj, subresource)
        return self._checked_update(rtype, existing, merged, ctx, subresource), False

    # --- delete ----------------------------------------------------------------------------

    def delete(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        options: DeleteOptions,
        ctx: WriteContext,
    ) -> KubeObject:
        old = self.get(rtype, namespace, name)
        meta = old["metadata"]
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != meta["uid"]:
            raise Conflict.precondition(
                rtype.plural,
                rtype.group,
                name,
                f"Precondition failed: UID in precondition: {pre['uid']},"
                f" UID in object meta: {meta['uid']}",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            raise Conflict.precondition(
                rtype.plural,
                rtype.group,
                name,
                f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']},"
                f" ResourceVersion in object meta: {meta['resourceVersion']}",
            )
        policy = options.get("propagationPolicy") or "Background"
        new = copy.deepcopy(old)
        new_meta = new["metadata"]
        if policy == "Orphan" and not ctx.dry_run:
            self.orphan_dependents(meta["uid"])
        if policy == "Foreground" and self.store.dependents(meta["uid"]):
            finalizers = new_meta.setdefault("finalizers", [])
            if FOREGROUND_FINALIZER not in finalizers:
                finalizers.append(FOREGROUND_FINALIZER)
        grace = self._grace_period(rtype, old, options)
        if is_terminating(old):
            pending_grace = int(meta.get("deletionGracePeriodSeconds") or 0)
            if grace == 0 and pending_grace > 0:
                new_meta["deletionGracePeriodSeconds"] = 0
                new_meta["deletionTimestamp"] = now_rfc3339()
            return self.commit_update(rtype, old, new, ctx)
        if pending_finalizers(rtype.key, new) or grace > 0:
            new_meta["deletionTimestamp"] = now_rfc3339(grace)
            new_meta["deletionGracePeriodSeconds"] = grace
            new_meta["generation"] = int(meta.get("generation") or 0) + 1
            if rtype.key == NAMESPACE_KEY:
                new.setdefault("status", {})["phase"] = "Terminating"
            if ctx.dry_run:
                return new
            stored = self.store.put(rtype.key, new, old)
            self._after_write(rtype, stored)
            return stored
        if ctx.dry_run:
            return new
        return self._remove(rtype, new)

    def _grace_period(self, rtype: ResourceType, obj: KubeObject, options: DeleteOptions) -> int:
        if rtype.key != POD_KEY:
            return 0
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        if "gracePeriodSeconds" in options and options["gracePeriodSeconds"] is not None:
            return max(0, int(options["gracePeriodSeconds"]))
        return int(spec.get("terminationGracePeriodSeconds", 30))

    def _remove(self, rtype: ResourceType, final: KubeObject) -> KubeObject:
        removed = self.store.remove(rtype.key, final)
        meta = removed["metadata"]
        self.gc.owner_gone(meta["uid"])
        namespace = meta.get("namespace")
        if namespace and is_terminating(self.store.get(NAMESPACE_KEY, "", namespace)):
            self.gc.namespace_changed(namespace)
        if rtype.custom:
            crd_name = f"{rtype.plural}.{rtype.group}"
            if is_terminating(self.store.get(CRD_KEY, "", crd_name)):
                self.gc.crd_changed(crd_name)
        for ref in meta.get("ownerReferences") or ():
            self.gc.dependent_gone(ref["uid"])
        if rtype.key == CRD_KEY:
            served = type_from_crd(removed)
            self.registry.remove(served)
            self.store.drop_resource(served.key)
        return removed

    def orphan_dependents(self, owner_uid: str) -> None:
        for group, plural, namespace, name in self.store.dependents(owner_uid):
            dependent = self.store.get((group, plural), namespace, name)
            rtype = self.registry.by_key((group, plural))
            if dependent is None or rtype is None:
                continue
            new = copy.deepcopy(dependent)
            refs = [
                r for r in new["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid
            ]
            new["metadata"]["ownerReferences"] = refs
            if not refs:
                del new["metadata"]["ownerReferences"]
            self.commit_update(rtype, dependent, new, WriteContext())

    # --- shared helpers --------------------------------------------------------------------

    def _decode_body(self, rtype: ResourceType, body: Any, ctx: WriteContext) -> KubeObject:
        if not isinstance(body, dict):
            raise BadRequest(
                f'{rtype.kind} in version "{ctx.version or rtype.storage_version}" cannot be'
                f" handled as a {rtype.kind}: json: cannot unmarshal into Go value of type"
                f" {rtype.kind}"
            )
        obj = copy.deepcopy(body)
        version = ctx.version or rtype.storage_version
        api_version = obj.get("apiVersion")
        if api_version not in (None, "", rtype.api_version(version)) or obj.get("kind") not in (
            None,
            "",
            rtype.kind,
        ):
            raise BadRequest(
                f"the API version in the data ({api_version}) does not match the expected API"
                f" version ({rtype.api_version(version)})"
                if obj.get("kind") in (None, "", rtype.kind)
                else f'{obj.get("kind")} in version "{version}" cannot be handled as a'
                f" {rtype.kind}: the object kind does not match"
            )
        obj["apiVersion"] = rtype.api_version(version)
        obj["kind"] = rtype.kind
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise BadRequest(
                f'{rtype.kind} in version "{version}" cannot be handled: metadata must be an object'
            )
        return obj

    def _check_namespace(
        self, rtype: ResourceType, namespace: str | None, meta: dict[str, Any]
    ) -> None:
        if not rtype.namespaced:
            meta.pop("namespace", None)
            return
        if namespace is None:
            raise NotFound.path()
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise BadRequest(
                "the namespace of the provided object does not match the namespace sent on"
                " the request"
            )
        meta["namespace"] = namespace

    def _check_namespace_open(self, rtype: ResourceType, namespace: str, name: str) -> None:
        ns = self.store.get(NAMESPACE_KEY, "", namespace)
        if ns is None:
            raise NotFound.of("namespaces", "", namespace)
        if is_terminating(ns):
            raise Forbidden(
                f'{rtype.plural} "{name}" is forbidden: unable to create new content in namespace'
                f" {namespace} because it is being terminated",
                details={
                    "name": name,
                    "kind": rtype.plural,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    def _admit(
        self, rtype: ResourceType, obj: KubeObject, old: KubeObject | None, ctx: WriteContext
    ) -> None:
        name = obj["metadata"].get("name", "")
        if rtype.custom:
            errors, unknown = admit_custom(rtype, ctx.version or rtype.storage_version, obj, old)
        else:
            errors, unknown = [], unknown_builtin_fields(rtype, obj)
            for path in unknown:
                top, _, rest = path.partition(".")
                if rest:
                    obj.get(top, {}).pop(rest, None)
                else:
                    obj.pop(top, None)
        if unknown and ctx.field_validation == "Strict":
            listing = ", ".join(f'unknown field "{p}"' for p in unknown)
            raise BadRequest(
                f'{rtype.kind} in version "{ctx.version or rtype.storage_version}" cannot be'
                f" handled as a {rtype.kind}: strict decoding error: {listing}"
            )
        if unknown and ctx.field_validation == "Warn":
            ctx.warnings += [f'unknown field "{p}"' for p in unknown]
        errors = validate_metadata(rtype, obj) + errors + validate_builtin(rtype, obj)
        if errors:
            raise Invalid.of(rtype.kind, rtype.group, name, errors)

    def _after_write(self, rtype: ResourceType, obj: KubeObject) -> None:
        if rtype.key == CRD_KEY:
            self.registry.add(type_from_crd(obj))
        if is_terminating(obj):
            if rtype.key == NAMESPACE_KEY:
                self.gc.namespace_changed(obj["metadata"]["name"])
            elif rtype.key == CRD_KEY:
                self.gc.crd_changed(obj["metadata"]["name"])
            if FOREGROUND_FINALIZER in (obj["metadata"].get("finalizers") or []):
                self.gc.dependent_gone(obj["metadata"]["uid"])


__all__ = ["ApiError", "KubeApi", "WriteContext", "is_terminating", "now_rfc3339"]
