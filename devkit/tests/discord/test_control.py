"""The HTTP user-side API (``/_emulator``) that local mode and the demo drive."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
from aiohttp import web

from cephalon_devkit.discord import DiscordEmulator


async def test_http_user_side_api_end_to_end(emu: DiscordEmulator, make_receiver):
    async def answer(payload: dict[str, Any]) -> web.StreamResponse:
        if payload["type"] == 2:
            return web.json_response({"type": 4, "data": {"content": "pong"}})
        return web.json_response({"type": 7, "data": {"content": "clicked", "components": []}})

    receiver = await make_receiver(emu, answer)
    base = emu.url + "/_emulator"
    async with aiohttp.ClientSession() as s:

        async def call(method: str, path: str, body: Any = None, ok: int = 200) -> Any:
            async with s.request(method, base + path, json=body) as r:
                assert r.status == ok, await r.text()
                return await r.json() if r.content_type == "application/json" else await r.text()

        guild = await call("POST", "/guilds", {"name": "acme"})
        goose = await call("POST", "/applications", {"name": "goose"})
        assert goose["public_key"] != emu.public_key
        await call(
            "POST", f"/guilds/{guild['id']}/bots", {"application_id": goose["application_id"]}
        )
        assert goose["bot_user_id"] in (await call("GET", "/state"))["guilds"][0]["members"]
        role = await call(
            "POST", f"/guilds/{guild['id']}/roles", {"name": "operators", "permissions": "0"}
        )
        ada = await call("POST", "/users", {"name": "ada", "guild_id": guild["id"]})
        await call(
            "PUT", f"/guilds/{guild['id']}/members/{ada['id']}/roles", {"roles": [role["id"]]}
        )
        lobby = await call("POST", f"/guilds/{guild['id']}/channels", {"name": "Lobby"})
        assert lobby["name"] == "lobby"
        files = [
            {
                "filename": "a.txt",
                "content_base64": base64.b64encode(b"A").decode(),
                "content_type": "text/plain",
            }
        ]
        posted = await call(
            "POST",
            f"/channels/{lobby['id']}/messages",
            {"user_id": ada["id"], "content": "hi", "files": files},
        )
        assert posted["attachments"][0]["filename"] == "a.txt"
        await call(
            "PATCH",
            f"/channels/{lobby['id']}/messages/{posted['id']}",
            {"user_id": ada["id"], "content": "hello"},
        )
        await call(
            "POST",
            f"/channels/{lobby['id']}/messages/{posted['id']}/reactions",
            {"user_id": ada["id"], "emoji": "👍"},
        )
        assert (await call("PUT", "/interactions/endpoint", {"url": receiver.url}))["url"]
        assert (await call("POST", "/interactions/endpoint/verify"))["ok"] is True

        emu.world.bulk_overwrite_commands(None, [{"name": "ping", "description": "Ping"}])
        done = await call(
            "POST",
            "/interactions/command",
            {"channel_id": lobby["id"], "user_id": ada["id"], "name": "ping"},
        )
        assert done["acknowledged"] and done["response_type"] == 4
        components = [
            {
                "type": 1,
                "components": [{"type": 2, "style": 1, "label": "Go", "custom_id": "cephalon:go"}],
            }
        ]
        card, _ = emu.world.create_message(
            int(lobby["id"]), emu.bot.id, {"content": "card", "components": components}
        )
        clicked = await call(
            "POST",
            "/interactions/button",
            {"message_id": str(card.id), "custom_id": "cephalon:go", "user_id": ada["id"]},
        )
        assert clicked["response_type"] == 7
        listed = await call("GET", "/interactions")
        assert [x["type"] for x in listed] == [1, 2, 3]  # the PING, the command, the click
        assert all(isinstance(x["id"], str) for x in listed)

        entries = await call("GET", f"/channels/{lobby['id']}/transcript")
        assert [e["content"] for e in entries] == ["hello", "pong", "clicked"]
        assert entries[0]["reactions"] == {"👍": 1} and entries[0]["edits"] == 1
        text = await call("GET", f"/channels/{lobby['id']}/transcript?format=text")
        assert text.startswith("#lobby\nada") and "[file] a.txt" in text
        assert "#lobby" in await call("GET", "/transcript")

        state = await call("GET", "/state")
        assert state["guilds"][0]["roles"][role["id"]] == "operators"
        await call("DELETE", f"/channels/{lobby['id']}/messages/{posted['id']}?user_id={ada['id']}")
        await call("DELETE", f"/guilds/{guild['id']}/members/{ada['id']}")
        assert ada["id"] not in (await call("GET", "/state"))["guilds"][0]["members"]

        await call(
            "POST", "/faults", {"route": "get_current_user", "status": 429, "retry_after": 0.1}
        )
        async with s.get(
            emu.api_base + "/users/@me", headers={"Authorization": f"Bot {emu.bot_token}"}
        ) as r:
            assert r.status == 429
        assert (await call("GET", "/invalid-requests"))["count"] == 1
        assert (await call("GET", "/requests?route=get_current_user"))[0]["status"] == 429
        assert (await call("POST", "/gateway/drop", {}))["closed"] == 0
        bad = await call(
            "POST",
            "/interactions/button",
            {"message_id": str(card.id), "custom_id": "nope", "user_id": ada["id"]},
            ok=400,
        )
        assert "no enabled button" in bad["error"]
