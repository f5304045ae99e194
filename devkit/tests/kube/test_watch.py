"""Watch semantics (https://kubernetes.io/docs/reference/using-api/api-concepts/
#efficient-detection-of-changes): resume from a resourceVersion, bookmarks,
timeoutSeconds, 410 Gone for compacted versions, and no change lost between a list
and the watch started from its resourceVersion."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from cephalon_devkit.kube import KubeApiServer
from cephalon_devkit.testing.kube import KubeApiHandle

from .conftest import Http, eventually

CMS = "/api/v1/namespaces/default/configmaps"


async def test_watch_resumes_from_resource_version(http: Http) -> None:
    first = await http.ok("POST", CMS, {"metadata": {"name": "a"}})
    await http.ok("POST", CMS, {"metadata": {"name": "b"}})
    await http.ok("DELETE", f"{CMS}/a")
    events = await http.watch(
        CMS, {"resourceVersion": first["metadata"]["resourceVersion"]}, until=lambda e: len(e) >= 2
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "b"),
        ("DELETED", "a"),
    ]


async def test_watch_without_version_starts_with_current_state(http: Http) -> None:
    await http.ok("POST", CMS, {"metadata": {"name": "x"}})
    events = await http.watch(CMS, {}, until=lambda e: len(e) >= 1)
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "x"


async def test_timeout_seconds_ends_the_stream(http: Http) -> None:
    started = time.monotonic()
    events = await http.watch(
        CMS, {"resourceVersion": "1000", "timeoutSeconds": "1"}, until=lambda e: False
    )
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 4, elapsed
    assert all(e["type"] != "ERROR" for e in events)


async def test_bookmarks_carry_a_resumable_version() -> None:
    async with KubeApiServer(bookmark_interval_s=0.2) as server, aiohttp.ClientSession() as session:
        http = Http(session, server.url)
        listed = await http.ok("GET", CMS)
        await http.ok("POST", CMS, {"metadata": {"name": "bm"}})
        events = await http.watch(
            CMS,
            {
                "resourceVersion": listed["metadata"]["resourceVersion"],
                "allowWatchBookmarks": "true",
            },
            until=lambda e: any(x["type"] == "BOOKMARK" for x in e),
        )
        bookmark = events[-1]
        assert bookmark["type"] == "BOOKMARK"
        assert bookmark["object"]["kind"] == "ConfigMap"
        assert int(bookmark["object"]["metadata"]["resourceVersion"]) >= int(
            events[0]["object"]["metadata"]["resourceVersion"]
        )
        # Resuming from the bookmark sees only later changes.
        await http.ok("POST", CMS, {"metadata": {"name": "after"}})
        later = await http.watch(
            CMS,
            {"resourceVersion": bookmark["object"]["metadata"]["resourceVersion"]},
            until=lambda e: len(e) >= 1,
        )
        assert later[0]["object"]["metadata"]["name"] == "after"


async def test_compacted_version_is_410_gone() -> None:
    async with KubeApiServer(history_size=5) as server, aiohttp.ClientSession() as session:
        http = Http(session, server.url)
        first = await http.ok("POST", CMS, {"metadata": {"name": "c0"}})
        for i in range(1, 10):
            await http.ok("POST", CMS, {"metadata": {"name": f"c{i}"}})
        events = await http.watch(
            CMS,
            {"resourceVersion": first["metadata"]["resourceVersion"]},
            until=lambda e: len(e) >= 1,
        )
        assert events[0]["type"] == "ERROR"
        status = events[0]["object"]
        assert (
            status["kind"] == "Status" and status["code"] == 410 and status["reason"] == "Expired"
        )
        assert status["message"].startswith("too old resource version:")


async def test_no_change_lost_between_list_and_watch(http: Http) -> None:
    """Writers race a list+watch client; the client's view must equal the store's."""
    stop = asyncio.Event()

    async def writer(prefix: str) -> None:
        i = 0
        while not stop.is_set():
            await http.ok("POST", CMS, {"metadata": {"name": f"{prefix}{i}"}})
            if i % 3 == 0:
                await http.ok("DELETE", f"{CMS}/{prefix}{i}")
            i += 1

    writers = [asyncio.create_task(writer(p)) for p in ("a", "b")]
    await asyncio.sleep(0.1)
    listed = await http.ok("GET", CMS)
    seen = {o["metadata"]["name"] for o in listed["items"]}
    rv = listed["metadata"]["resourceVersion"]
    session = http.session
    async with session.get(
        http.url + CMS, params={"watch": "1", "resourceVersion": rv}
    ) as response:
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*writers)
        final = await http.ok("GET", CMS)
        final_rv = int(final["metadata"]["resourceVersion"])
        async for line in response.content:
            event = json.loads(line)
            name = event["object"]["metadata"]["name"]
            if event["type"] == "DELETED":
                seen.discard(name)
            else:
                seen.add(name)
            if int(event["object"]["metadata"]["resourceVersion"]) >= final_rv:
                break
    assert seen == {o["metadata"]["name"] for o in final["items"]}


async def test_watchers_are_released_when_clients_leave(
    http: Http, kube_api: KubeApiHandle
) -> None:
    """Fan-out cost must follow live watches, not every watch ever opened."""
    store = kube_api.api.store
    await http.ok("POST", CMS, {"metadata": {"name": "seed"}})
    for _ in range(10):
        await http.watch(CMS, {"timeoutSeconds": "0.05"}, until=lambda e: False)
    for _ in range(10):  # clients that hang up mid-stream
        await http.watch(CMS, {}, until=lambda e: len(e) >= 1)

    async def released() -> bool:
        return store.watcher_count() == 0

    await eventually(released, what="watchers released")


async def test_legacy_watch_path(http: Http) -> None:
    await http.ok("POST", CMS, {"metadata": {"name": "legacy"}})
    async with http.session.get(http.url + "/api/v1/watch/namespaces/default/configmaps") as r:
        assert r.headers["Content-Type"] == "application/json;stream=watch"
        event = json.loads(await r.content.readline())
    assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "legacy"


async def test_send_initial_events_end_with_a_bookmark(http: Http) -> None:
    for name in ("i1", "i2"):
        await http.ok("POST", CMS, {"metadata": {"name": name}})
    events = await http.watch(
        CMS,
        {
            "sendInitialEvents": "true",
            "allowWatchBookmarks": "true",
            "resourceVersionMatch": "NotOlderThan",
        },
        until=lambda e: any(x["type"] == "BOOKMARK" for x in e),
    )
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "BOOKMARK"]
    annotations = events[-1]["object"]["metadata"]["annotations"]
    assert annotations == {"k8s.io/initial-events-end": "true"}
