"""Label selectors (equality and set-based) and field selectors, on list and watch
(https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/,
https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/)."""

from __future__ import annotations

import pytest

from cephalon_devkit.kube.errors import BadRequest
from cephalon_devkit.kube.selectors import parse_field_selector, parse_label_selector

from .conftest import Http, pod_body

CMS = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"


def labelled(labels: dict[str, str]) -> dict[str, object]:
    return {"metadata": {"labels": labels}}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("env=prod", [True, False, False, False]),
        ("env==prod", [True, False, False, False]),
        ("env!=prod", [False, True, True, True]),
        ("env in (prod, dev)", [True, True, False, False]),
        ("env notin (prod)", [False, True, True, True]),
        ("tier", [True, False, True, False]),
        ("!tier", [False, True, False, True]),
        ("env=prod,tier=web", [True, False, False, False]),
        ("tier,env notin (dev,qa)", [True, False, True, False]),
        ("size>2", [False, False, True, False]),
        ("", [True, True, True, True]),
    ],
)
def test_label_selector_semantics(selector: str, expected: list[bool]) -> None:
    objects = [
        labelled({"env": "prod", "tier": "web"}),
        labelled({"env": "dev"}),
        labelled({"tier": "db", "size": "3"}),
        labelled({}),
    ]
    parsed = parse_label_selector(selector)
    assert [parsed.matches(o) for o in objects] == expected


def test_selector_errors_are_bad_requests() -> None:
    with pytest.raises(BadRequest):
        parse_label_selector("env in ()")
    with pytest.raises(BadRequest):
        parse_label_selector("bad key=1")
    with pytest.raises(BadRequest) as unsupported:
        parse_field_selector("spec.foo=x", ("", "configmaps"))
    assert unsupported.value.message == "field label not supported: spec.foo"
    assert parse_field_selector("status.phase=Running", ("", "pods")).terms


async def test_list_with_label_and_field_selectors(http: Http) -> None:
    for name, labels in (
        ("a", {"app": "x", "tier": "web"}),
        ("b", {"app": "x"}),
        ("c", {"app": "y"}),
    ):
        await http.ok("POST", CMS, {"metadata": {"name": name, "labels": labels}})

    async def names(params: dict[str, str], path: str = CMS) -> list[str]:
        listed = await http.ok("GET", path, params=params)
        return [o["metadata"]["name"] for o in listed["items"]]

    assert await names({"labelSelector": "app=x"}) == ["a", "b"]
    assert await names({"labelSelector": "app in (x,y),!tier"}) == ["b", "c"]
    assert await names({"fieldSelector": "metadata.name=c"}) == ["c"]
    assert await names({"fieldSelector": "metadata.name!=c", "labelSelector": "app"}) == ["a", "b"]
    assert await names({"fieldSelector": "metadata.namespace=default"}, "/api/v1/configmaps") == [
        "a",
        "b",
        "c",
    ]
    reply = await http.get(CMS, params={"fieldSelector": "data.x=1"})
    assert reply.status == 400 and reply.body["reason"] == "BadRequest"
    await http.ok("POST", PODS, pod_body("p1"))
    await http.ok("POST", PODS, pod_body("p2"))
    await http.ok(
        "PATCH",
        f"{PODS}/p2/status",
        {"status": {"phase": "Running"}},
        content_type="application/merge-patch+json",
    )
    assert await names({"fieldSelector": "status.phase=Running"}, PODS) == ["p2"]
    assert await names({"fieldSelector": "status.phase!=Running"}, PODS) == ["p1"]


async def test_watch_selector_transitions_are_added_and_deleted(http: Http) -> None:
    listed = await http.ok("GET", CMS)
    rv = listed["metadata"]["resourceVersion"]
    await http.ok("POST", CMS, {"metadata": {"name": "w", "labels": {"app": "x"}}})
    await http.ok(
        "PATCH",
        f"{CMS}/w",
        {"metadata": {"labels": {"app": "y"}}},
        content_type="application/merge-patch+json",
    )
    await http.ok(
        "PATCH",
        f"{CMS}/w",
        {"metadata": {"labels": {"app": "x"}}},
        content_type="application/merge-patch+json",
    )
    events = await http.watch(
        CMS, {"resourceVersion": rv, "labelSelector": "app=x"}, until=lambda e: len(e) >= 3
    )
    assert [e["type"] for e in events] == ["ADDED", "DELETED", "ADDED"]
    assert events[1]["object"]["metadata"]["labels"] == {"app": "x"}  # last matching state
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions)


async def test_watch_field_selector_on_pod_phase(http: Http) -> None:
    listed = await http.ok("GET", PODS)
    await http.ok("POST", PODS, pod_body("ph"))
    await http.ok(
        "PATCH",
        f"{PODS}/ph/status",
        {"status": {"phase": "Running"}},
        content_type="application/merge-patch+json",
    )
    await http.ok(
        "PATCH",
        f"{PODS}/ph/status",
        {"status": {"phase": "Succeeded"}},
        content_type="application/merge-patch+json",
    )
    events = await http.watch(
        PODS,
        {
            "resourceVersion": listed["metadata"]["resourceVersion"],
            "fieldSelector": "status.phase=Running",
        },
        until=lambda e: len(e) >= 2,
    )
    assert [(e["type"], e["object"]["status"]["phase"]) for e in events] == [
        ("ADDED", "Running"),
        ("DELETED", "Running"),
    ]
