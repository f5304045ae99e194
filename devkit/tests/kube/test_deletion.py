"""Finalizers, ``deletionTimestamp``, graceful pod deletion, ownerReference garbage
collection (background/foreground/orphan), namespace and CRD cleanup
(https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/,
https://kubernetes.io/docs/concepts/architecture/garbage-collection/)."""

from __future__ import annotations

from typing import Any

from cephalon_devkit.testing.kube import KubeApiHandle

from .conftest import AS_PATH, Http, eventually, pod_body, session_body

PODS = "/api/v1/namespaces/default/pods"
CMS = "/api/v1/namespaces/default/configmaps"


def owned_by(owner: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": owner["apiVersion"],
            "kind": owner["kind"],
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


async def gone(http: Http, path: str) -> bool:
    return (await http.get(path)).status == 404


async def test_finalizers_hold_deletion_until_removed(http: Http, crds: object) -> None:
    body = session_body()
    body["metadata"]["finalizers"] = ["cephalon.dev/cleanup"]
    created = await http.ok("POST", AS_PATH, body)
    marked = await http.ok("DELETE", f"{AS_PATH}/s1")
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["generation"] == created["metadata"]["generation"] + 1
    held = await http.ok("GET", f"{AS_PATH}/s1")
    assert held["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]
    again = await http.ok("DELETE", f"{AS_PATH}/s1")
    assert again["metadata"]["resourceVersion"] == held["metadata"]["resourceVersion"]
    added = await http.patch(
        f"{AS_PATH}/s1", {"metadata": {"finalizers": ["cephalon.dev/cleanup", "new/one"]}}
    )
    assert added.status == 422
    assert "no new finalizers can be added" in added.body["message"]
    await http.ok(
        "PATCH",
        f"{AS_PATH}/s1",
        {"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
    assert await gone(http, f"{AS_PATH}/s1")


async def test_delete_preconditions(http: Http) -> None:
    cm = await http.ok("POST", CMS, {"metadata": {"name": "pre"}})
    reply = await http.delete(f"{CMS}/pre", {"preconditions": {"uid": "other"}})
    assert reply.status == 409 and reply.body["reason"] == "Conflict"
    reply = await http.delete(f"{CMS}/pre", {"preconditions": {"resourceVersion": "1"}})
    assert reply.status == 409
    deleted = await http.ok(
        "DELETE", f"{CMS}/pre", {"preconditions": {"uid": cm["metadata"]["uid"]}}
    )
    assert deleted["metadata"]["name"] == "pre"
    assert await gone(http, f"{CMS}/pre")


async def test_background_gc_respects_dependent_finalizers(
    http: Http, crds: object, kube_api: KubeApiHandle
) -> None:
    owner = await http.ok("POST", AS_PATH, session_body("owner"))
    await http.ok("POST", PODS, pod_body("child", metadata={"ownerReferences": owned_by(owner)}))
    await http.ok(
        "POST",
        CMS,
        {
            "metadata": {
                "name": "held",
                "ownerReferences": owned_by(owner),
                "finalizers": ["keep/me"],
            }
        },
    )
    other = await http.ok("POST", CMS, {"metadata": {"name": "other-owner"}})
    await http.ok(
        "POST",
        CMS,
        {"metadata": {"name": "shared", "ownerReferences": owned_by(owner) + owned_by(other)}},
    )
    await http.ok("DELETE", f"{AS_PATH}/owner")
    await eventually(lambda: gone(http, f"{PODS}/child"), what="child pod collected")
    await kube_api.api.gc.wait_idle()
    held = await http.ok("GET", f"{CMS}/held")
    assert held["metadata"]["deletionTimestamp"]  # marked, kept by its finalizer
    assert (await http.get(f"{CMS}/shared")).status == 200  # another owner still exists
    await http.ok(
        "PATCH",
        f"{CMS}/held",
        {"metadata": {"finalizers": []}},
        content_type="application/merge-patch+json",
    )
    assert await gone(http, f"{CMS}/held")


async def test_orphan_and_foreground_propagation(http: Http, kube_api: KubeApiHandle) -> None:
    owner = await http.ok("POST", CMS, {"metadata": {"name": "o1"}})
    await http.ok("POST", CMS, {"metadata": {"name": "d1", "ownerReferences": owned_by(owner)}})
    await http.ok("DELETE", f"{CMS}/o1", {"propagationPolicy": "Orphan"})
    await kube_api.api.gc.wait_idle()
    orphan = await http.ok("GET", f"{CMS}/d1")
    assert "ownerReferences" not in orphan["metadata"]

    owner = await http.ok("POST", CMS, {"metadata": {"name": "o2"}})
    await http.ok(
        "POST",
        CMS,
        {"metadata": {"name": "d2", "ownerReferences": owned_by(owner), "finalizers": ["keep/me"]}},
    )
    marked = await http.ok("DELETE", f"{CMS}/o2", {"propagationPolicy": "Foreground"})
    assert "foregroundDeletion" in marked["metadata"]["finalizers"]
    await kube_api.api.gc.wait_idle()
    assert (await http.get(f"{CMS}/o2")).status == 200  # waits for its dependent
    await http.ok(
        "PATCH",
        f"{CMS}/d2",
        {"metadata": {"finalizers": []}},
        content_type="application/merge-patch+json",
    )
    await eventually(lambda: gone(http, f"{CMS}/o2"), what="foreground owner removed")


async def test_scheduled_pods_delete_gracefully(http: Http) -> None:
    await http.ok("POST", PODS, pod_body("bound"))
    bind = await http.post(
        f"{PODS}/bound/binding",
        {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": "bound"},
            "target": {"kind": "Node", "name": "local"},
        },
    )
    assert bind.status == 201
    again = await http.post(f"{PODS}/bound/binding", {"target": {"name": "other"}})
    assert again.status == 409
    marked = await http.ok("DELETE", f"{PODS}/bound")
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    assert (await http.get(f"{PODS}/bound")).status == 200  # the executor finishes it
    await http.ok("DELETE", f"{PODS}/bound", {"gracePeriodSeconds": 0})
    assert await gone(http, f"{PODS}/bound")
    # An unscheduled pod goes at once.
    await http.ok("POST", PODS, pod_body("unbound"))
    await http.ok("DELETE", f"{PODS}/unbound")
    assert await gone(http, f"{PODS}/unbound")


async def test_namespace_deletion_removes_contents(http: Http) -> None:
    await http.ok("POST", "/api/v1/namespaces", {"metadata": {"name": "scratch"}})
    await http.ok(
        "POST",
        "/api/v1/namespaces/scratch/configmaps",
        {"metadata": {"name": "c", "finalizers": ["keep/me"]}},
    )
    await http.ok("POST", "/api/v1/namespaces/scratch/pods", pod_body("p"))
    marked = await http.ok("DELETE", "/api/v1/namespaces/scratch")
    assert marked["status"]["phase"] == "Terminating"
    await eventually(lambda: gone(http, "/api/v1/namespaces/scratch/pods/p"), what="pod removed")
    assert (await http.get("/api/v1/namespaces/scratch")).status == 200
    await http.ok(
        "PATCH",
        "/api/v1/namespaces/scratch/configmaps/c",
        {"metadata": {"finalizers": []}},
        content_type="application/merge-patch+json",
    )
    await eventually(lambda: gone(http, "/api/v1/namespaces/scratch"), what="namespace removed")


async def test_crd_deletion_removes_objects_and_stops_serving(http: Http, crds: object) -> None:
    await http.ok("POST", AS_PATH, session_body("a"))
    crd = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/agentsessions.cephalon.dev"
    await http.ok("DELETE", crd)
    await eventually(lambda: gone(http, crd), what="CRD removed")
    reply = await http.get(AS_PATH)
    assert reply.status == 404
    resources = await http.ok("GET", "/apis/cephalon.dev/v1alpha1")
    assert [r["name"] for r in resources["resources"]] == [
        "providertenants",
        "providertenants/status",
    ]
