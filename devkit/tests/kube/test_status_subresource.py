"""The status subresource: the main endpoint ignores ``.status``; ``/status`` changes
only ``.status`` (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/
custom-resource-definitions/#status-subresource)."""

from __future__ import annotations

from .conftest import AS_PATH, Http, session_body


async def test_status_ignored_on_create_and_main_endpoint(http: Http, crds: object) -> None:
    body = session_body()
    body["status"] = {"phase": "Ready"}
    created = await http.ok("POST", AS_PATH, body)
    assert "status" not in created
    await http.ok(
        "PATCH",
        f"{AS_PATH}/s1/status",
        {"status": {"phase": "Provisioning"}},
        content_type="application/merge-patch+json",
    )
    current = await http.ok("GET", f"{AS_PATH}/s1")
    current["status"] = {"phase": "Failed"}
    current["spec"]["owner"]["name"] = "bob"
    replaced = await http.ok("PUT", f"{AS_PATH}/s1", current)
    assert replaced["status"]["phase"] == "Provisioning"
    assert replaced["spec"]["owner"]["name"] == "bob"
    patched = await http.ok(
        "PATCH",
        f"{AS_PATH}/s1",
        {"status": {"phase": "Failed"}},
        content_type="application/merge-patch+json",
    )
    assert patched["status"]["phase"] == "Provisioning"


async def test_status_endpoint_changes_only_status(http: Http, crds: object) -> None:
    await http.ok("POST", AS_PATH, session_body())
    current = await http.ok("GET", f"{AS_PATH}/s1")
    current["spec"]["owner"]["name"] = "mallory"
    current["metadata"]["labels"] = {"changed": "yes"}
    current["status"] = {"phase": "Ready", "turns": 3}
    updated = await http.ok("PUT", f"{AS_PATH}/s1/status", current)
    assert updated["status"]["phase"] == "Ready" and updated["status"]["turns"] == 3
    assert updated["spec"]["owner"]["name"] == "alice"
    assert updated["metadata"]["labels"] == {"tenant": "duck"}
    assert updated["metadata"]["generation"] == 1
    # Status is validated against the schema too.
    bad = await http.patch(f"{AS_PATH}/s1/status", {"status": {"phase": "Dancing"}})
    assert bad.status == 422
    assert bad.body["details"]["causes"][0]["field"] == "status.phase"


async def test_status_endpoint_checks_resource_version(http: Http, crds: object) -> None:
    created = await http.ok("POST", AS_PATH, session_body())
    await http.ok(
        "PATCH",
        f"{AS_PATH}/s1/status",
        {"status": {"phase": "Ready"}},
        content_type="application/merge-patch+json",
    )
    stale = {**created, "status": {"phase": "Failed"}}
    reply = await http.put(f"{AS_PATH}/s1/status", stale)
    assert reply.status == 409 and reply.body["reason"] == "Conflict"
