"""HTTP routing for the emulator: URLs, query parameters and bodies to :class:`KubeApi`.

One catch-all route parses the Kubernetes URL scheme
(``/api/v1/namespaces/<ns>/<resource>/<name>/<subresource>``, ``/apis/<g>/<v>/…``)
instead of registering routes per resource: CRDs appear and disappear at run time,
and a table of routes would grow with them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
import logging
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web
from multidict import MultiMapping

from . import discovery, openapi, protobuf
from .api import KubeApi
from .errors import (
    ApiError,
    BadRequest,
    Conflict,
    Gone,
    MethodNotAllowed,
    NotFound,
    UnsupportedMediaType,
)
from .lifecycle import WriteContext, is_terminating, now_rfc3339
from .resources import POD_KEY, ResourceType
from .selectors import parse_field_selector, parse_label_selector
from .tables import to_table
from .types import DeleteOptions, KubeObject
from .watch import Delivery, Watcher

logger = logging.getLogger(__name__)

JSON = "application/json"
WATCH_JSON = "application/json;stream=watch"
DEFAULT_WATCH_TIMEOUT_S = 1800.0


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def json_response(obj: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    response = web.Response(body=dumps(obj), status=status, content_type=JSON)
    for warning in warnings or ():
        response.headers.add("Warning", f'299 - "{_escape(warning)}"')
    return response


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed resource URL."""

    rtype: ResourceType
    version: str
    namespace: str | None
    name: str | None
    subresource: str | None


class Handlers:
    def __init__(self, api: KubeApi, *, bookmark_interval_s: float = 60.0) -> None:
        self.api = api
        self.bookmark_interval_s = bookmark_interval_s
        self.watch_tasks: set[asyncio.Task[Any]] = set()

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._dispatch(request)
        except ApiError as e:
            return json_response(e.status(), status=e.code)
        except Exception:
            logger.exception("kube emulator failed on %s %s", request.method, request.path)
            status = ApiError("an internal error occurred in the emulator").status()
            return json_response(status, status=500)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        registry = self.api.registry
        if request.method == "GET":
            if path == "/version":
                return json_response(discovery.version_info())
            if path in ("/healthz", "/livez", "/readyz"):
                return web.Response(text="ok")
            if path == "/api":
                host = request.host or "127.0.0.1"
                return json_response(discovery.api_versions(host))
            if path == "/apis":
                return json_response(discovery.api_group_list(registry))
            if path == "/openapi/v3":
                return json_response(openapi.root_document(registry))
            if path.startswith("/openapi/v3/"):
                doc = self._openapi_doc(path.removeprefix("/openapi/v3/"))
                if doc is None:
                    raise NotFound.path()
                return json_response(doc)
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[0] == "apis" and len(parts) == 2 and request.method == "GET":
            doc = discovery.api_group(registry, parts[1])
            if doc is None:
                raise NotFound.path()
            return json_response(doc)
        else:
            raise NotFound.path()
        if not rest:
            if request.method != "GET":
                raise MethodNotAllowed.default()
            doc = discovery.api_resource_list(registry, group, version)
            if doc is None:
                raise NotFound.path()
            return json_response(doc)
        watch_path = rest[0] == "watch"
        if watch_path:
            rest = rest[1:]
        target = self._target(group, version, rest)
        return await self._serve(request, target, watch_path)

    def _openapi_doc(self, gv: str) -> dict[str, Any] | None:
        parts = gv.split("/")
        if parts[0] == "api" and len(parts) == 2:
            return openapi.group_version_document(self.api.registry, "", parts[1])
        if parts[0] == "apis" and len(parts) == 3:
            return openapi.group_version_document(self.api.registry, parts[1], parts[2])
        return None

    def _target(self, group: str, version: str, rest: list[str]) -> Target:
        namespace: str | None = None
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise NotFound.path()
        rtype = self.api.registry.get(group, version, rest[0])
        if rtype is None or (namespace is not None and not rtype.namespaced):
            raise NotFound.path()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        allowed_sub = {"status"} if rtype.has_status else set()
        if rtype.key == POD_KEY:
            allowed_sub.add("binding")
        if rtype.kind == "Namespace" and not rtype.group:
            allowed_sub.add("finalize")
        if sub is not None and sub not in allowed_sub:
            raise NotFound.path()
        return Target(rtype, version, namespace, name, sub)

    # --- verbs ---------------------------------------------------------------------------

    async def _serve(self, request: web.Request, t: Target, watch_path: bool) -> web.StreamResponse:
        query = request.query
        method = request.method
        ctx = WriteContext(
            dry_run="All" in query.getall("dryRun", []),
            field_validation=query.get("fieldValidation") or "Warn",
            version=t.version,
        )
        api = self.api
        if method == "GET":
            if t.name is not None and not watch_path:
                obj = api.get(t.rtype, t.namespace, t.name)
                if _wants_table(request):
                    table = to_table(
                        t.rtype,
                        t.version,
                        [obj],
                        resource_version=obj["metadata"]["resourceVersion"],
                        include_object=query.get("includeObject", "Metadata"),
                    )
                    return json_response(table)
                return json_response(self._versioned(t, obj))
            if watch_path or query.get("watch") in ("1", "true", "True"):
                return await self._watch(request, t)
            return self._list(request, t)
        if method == "POST":
            body = await _read_body(request)
            if t.subresource == "binding" and t.name is not None:
                return self._bind(t, body, ctx)
            if t.name is not None:
                raise MethodNotAllowed.default()
            created = api.create(t.rtype, t.namespace, body, ctx)
            return json_response(self._versioned(t, created), 201, ctx.warnings)
        if t.name is None:
            if method == "DELETE":
                return await self._delete_collection(request, t, ctx)
            raise MethodNotAllowed.default()
        if method == "PUT":
            body = await _read_body(request)
            updated = api.update(t.rtype, t.namespace, t.name, body, ctx, t.subresource)
            return json_response(self._versioned(t, updated), 200, ctx.warnings)
        if method == "PATCH":
            raw = await request.read()
            result, was_created = api.patch(
                t.rtype, t.namespace, t.name, request.content_type or "", raw, ctx, t.subresource
            )
            code = 201 if was_created else 200
            return json_response(self._versioned(t, result), code, ctx.warnings)
        if method == "DELETE":
            options = await self._delete_options(request)
            ctx.dry_run = ctx.dry_run or "All" in (options.get("dryRun") or [])
            deleted = api.delete(t.rtype, t.namespace, t.name, options, ctx)
            return json_response(self._versioned(t, deleted), 200)
        raise MethodNotAllowed.default()

    def _versioned(self, t: Target, obj: KubeObject) -> KubeObject:
        api_version = t.rtype.api_version(t.version)
        if obj.get("apiVersion") == api_version:
            return obj
        return {**obj, "apiVersion": api_version}

    def _list(self, request: web.Request, t: Target) -> web.Response:
        query = request.query
        labels = parse_label_selector(query.get("labelSelector"))
        fields = parse_field_selector(query.get("fieldSelector"), t.rtype.key)
        items, rv = self.api.list(t.rtype, t.namespace, labels, fields)
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        items, meta = _paginate(items, meta, query, rv)
        items = [self._versioned(t, o) for o in items]
        if _wants_table(request):
            table = to_table(
                t.rtype,
                t.version,
                items,
                resource_version=str(rv),
                include_object=query.get("includeObject", "Metadata"),
            )
            table["metadata"] = meta
            return json_response(table)
        return json_response(
            {
                "kind": t.rtype.list_kind,
                "apiVersion": t.rtype.api_version(t.version),
                "metadata": meta,
                "items": items,
            }
        )

    async def _delete_options(self, request: web.Request) -> DeleteOptions:
        options: DeleteOptions = {}
        if request.can_read_body:
            body = await _read_body(request)
            if isinstance(body, dict):
                options = body  # type: ignore[assignment]
        query = request.query
        if "propagationPolicy" in query:
            options["propagationPolicy"] = query["propagationPolicy"]  # type: ignore[typeddict-item]
        if "gracePeriodSeconds" in query:
            try:
                options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
            except ValueError as e:
                raise BadRequest(
                    f"invalid gracePeriodSeconds: {query['gracePeriodSeconds']}"
                ) from e
        if query.get("orphanDependents") == "true":
            options["propagationPolicy"] = "Orphan"
        return options

    async def _delete_collection(
        self, request: web.Request, t: Target, ctx: WriteContext
    ) -> web.Response:
        options = await self._delete_options(request)
        labels = parse_label_selector(request.query.get("labelSelector"))
        fields = parse_field_selector(request.query.get("fieldSelector"), t.rtype.key)
        items, _ = self.api.list(t.rtype, t.namespace, labels, fields)
        deleted = []
        for obj in items:
            meta = obj["metadata"]
            try:
                deleted.append(
                    self.api.delete(t.rtype, meta.get("namespace"), meta["name"], options, ctx)
                )
            except NotFound:
                continue
        return json_response(
            {
                "kind": t.rtype.list_kind,
                "apiVersion": t.rtype.api_version(t.version),
                "metadata": {"resourceVersion": str(self.api.store.resource_version)},
                "items": deleted,
            }
        )

    def _bind(self, t: Target, body: Any, ctx: WriteContext) -> web.Response:
        """``pods/<name>/binding``: what the scheduler does; sets ``spec.nodeName``."""
        assert t.name is not None
        pod = self.api.get(t.rtype, t.namespace, t.name)
        node = ((body or {}).get("target") or {}).get("name") if isinstance(body, dict) else None
        if not node:
            raise BadRequest("binding target name is required")
        current = (pod.get("spec") or {}).get("nodeName")
        if current:
            raise Conflict.precondition(
                "pods", "", t.name, f'pod {t.name} is already assigned to node "{current}"'
            )
        if is_terminating(pod):
            raise Conflict.precondition(
                "pods", "", t.name, f"pod {t.name} is being deleted, cannot be assigned to a host"
            )
        new = copy.deepcopy(pod)
        new["spec"]["nodeName"] = node
        conditions = [
            c
            for c in (new.get("status") or {}).get("conditions") or []
            if c.get("type") != "PodScheduled"
        ]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": now_rfc3339(),
            }
        )
        new.setdefault("status", {})["conditions"] = conditions
        self.api.commit_update(t.rtype, pod, new, ctx)
        return json_response(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "code": 201,
            },
            201,
        )

    # --- watch ---------------------------------------------------------------------------

    async def _watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        query = request.query
        watcher = Watcher(
            namespace=t.namespace,
            labels=parse_label_selector(query.get("labelSelector")),
            fields=parse_field_selector(query.get("fieldSelector"), t.rtype.key),
        )
        if t.name is not None:
            watcher = Watcher(
                namespace=t.namespace,
                labels=watcher.labels,
                fields=parse_field_selector(
                    ",".join(filter(None, [query.get("fieldSelector"), f"metadata.name={t.name}"])),
                    t.rtype.key,
                ),
            )
        bookmarks = query.get("allowWatchBookmarks") in ("1", "true", "True")
        timeout = _float(query.get("timeoutSeconds"), DEFAULT_WATCH_TIMEOUT_S)
        rv_param = query.get("resourceVersion") or ""
        initial = query.get("sendInitialEvents") in ("1", "true", "True")
        rkey = t.rtype.key
        store = self.api.store
        gone: Gone | None = None
        # Registration and replay happen without an await: nothing can be written between.
        if rv_param in ("", "0") or initial:
            items, rv = self.api.list(t.rtype, t.namespace, watcher.labels, watcher.fields)
            watcher.send_initial(items, rv)
            if initial and bookmarks:
                # Queued, so that it follows the initial events it closes.
                end = self._bookmark_object(t, rv, {"k8s.io/initial-events-end": "true"})
                watcher.queue.put_nowait(Delivery(rv, "BOOKMARK", end))
            store.subscribe(rkey, watcher, None)
        else:
            try:
                since = int(rv_param)
            except ValueError as e:
                raise BadRequest(f'invalid resource version "{rv_param}"') from e
            try:
                store.subscribe(rkey, watcher, since)
            except Gone as e:
                gone = e
        response = web.StreamResponse(status=200, headers={"Content-Type": WATCH_JSON})
        task = asyncio.current_task()
        if task is not None:
            self.watch_tasks.add(task)
        try:
            await response.prepare(request)
            if gone is not None:
                await response.write(dumps({"type": "ERROR", "object": gone.status()}) + b"\n")
                return response
            await self._stream(request, response, t, watcher, timeout, bookmarks)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            store.unsubscribe(rkey, watcher)
            if task is not None:
                self.watch_tasks.discard(task)
        return response

    async def _stream(
        self,
        request: web.Request,
        response: web.StreamResponse,
        t: Target,
        watcher: Watcher,
        timeout: float,
        bookmarks: bool,
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        next_bookmark = loop.time() + self.bookmark_interval_s
        table = _wants_table(request)
        include = request.query.get("includeObject", "Metadata")
        while True:
            now = loop.time()
            if now >= deadline:
                return
            wait = deadline - now
            if bookmarks:
                wait = min(wait, max(0.0, next_bookmark - now))
            try:
                first = await asyncio.wait_for(watcher.queue.get(), timeout=min(wait, 5.0))
            except TimeoutError:
                transport = request.transport
                if transport is None or transport.is_closing():
                    return
                # Only with nothing pending may the current version be announced: every
                # event up to it has then been written to this client.
                if bookmarks and loop.time() >= next_bookmark and watcher.queue.empty():
                    rv = self.api.store.resource_version
                    bookmark = {"type": "BOOKMARK", "object": self._bookmark_object(t, rv, None)}
                    await response.write(dumps(bookmark) + b"\n")
                    next_bookmark = loop.time() + self.bookmark_interval_s
                continue
            batch: list[Delivery | None] = [first]
            while not watcher.queue.empty():
                batch.append(watcher.queue.get_nowait())
            closed = None in batch
            chunk = b"".join(self._encode(t, d, table, include) for d in batch if d is not None)
            if chunk:
                await response.write(chunk)
            if closed:
                return

    def _encode(self, t: Target, delivery: Delivery, table: bool, include: str) -> bytes:
        obj = self._versioned(t, delivery.obj)
        if table and delivery.type != "BOOKMARK":
            obj = to_table(
                t.rtype, t.version, [obj], resource_version=str(delivery.rv), include_object=include
            )
        return dumps({"type": delivery.type, "object": obj}) + b"\n"

    def _bookmark_object(
        self, t: Target, rv: int, annotations: dict[str, str] | None
    ) -> KubeObject:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if annotations:
            meta["annotations"] = annotations
        return {
            "kind": t.rtype.kind,
            "apiVersion": t.rtype.api_version(t.version),
            "metadata": meta,
        }


def _float(text: str | None, default: float) -> float:
    if not text:
        return default
    try:
        return max(0.0, float(text))
    except ValueError as e:
        raise BadRequest(f"invalid timeoutSeconds: {text}") from e


def _wants_table(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    first = accept.split(",")[0]
    return "as=Table" in first


async def _read_body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return None
    media = (request.content_type or JSON).lower()
    if "protobuf" in media:
        return protobuf.decode(raw)
    if "cbor" in media:
        raise UnsupportedMediaType(
            "the body of the request was in an unknown format - accepted media types include:"
            " application/json, application/yaml, application/vnd.kubernetes.protobuf"
            f" (got {media})"
        )
    try:
        if "yaml" in media:
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as e:
        raise BadRequest(f"error decoding request body: {e}") from e


def _paginate(
    items: list[KubeObject], meta: dict[str, Any], query: MultiMapping[str], rv: int
) -> tuple[list[KubeObject], dict[str, Any]]:
    start = 0
    token = query.get("continue")
    if token:
        try:
            state = json.loads(base64.urlsafe_b64decode(token.encode()))
            after = (state["ns"], state["name"])
        except (ValueError, KeyError, binascii.Error) as e:
            raise BadRequest(f"continue key is not valid: {e}") from e
        keys = [(o["metadata"].get("namespace") or "", o["metadata"]["name"]) for o in items]
        start = next((i for i, k in enumerate(keys) if k > after), len(items))
    limit = int(query.get("limit") or 0)
    if limit <= 0:
        return items[start:], meta
    page = items[start : start + limit]
    if start + limit < len(items):
        last = page[-1]["metadata"]
        token_state = {"rv": rv, "ns": last.get("namespace") or "", "name": last["name"]}
        meta["continue"] = base64.urlsafe_b64encode(json.dumps(token_state).encode()).decode()
        meta["remainingItemCount"] = len(items) - start - limit
    return page, meta
