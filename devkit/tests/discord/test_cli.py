"""The emulator as a process: the info file, the seeded guild, the HTTP user-side API,
and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import aiohttp


async def test_cli_serves_seeds_and_stops(tmp_path: Path):
    info_file = tmp_path / "discord.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cephalon_devkit.discord",
        "--port",
        "0",
        "--info-file",
        str(info_file),
        "--extra-bot",
        "goose",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(600):
            if info_file.exists() or proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert proc.returncode is None, "the emulator process exited early"
        info = json.loads(info_file.read_text())
        assert info_file.stat().st_mode & 0o777 == 0o600
        assert info["bot_token"].startswith("fake-") and len(info["public_key"]) == 64
        seed = info["seed"]
        apps = {a["name"]: a for a in info["applications"]}
        assert set(apps) == {"Cephalon", "goose"}
        assert apps["goose"]["bot_token"] != info["bot_token"]
        lobby = seed["channels"]["lobby"]
        base = info["url"] + "/_emulator"
        async with aiohttp.ClientSession() as s:
            async with s.get(base + "/info") as r:
                assert (await r.json())["api_base"] == info["api_base"]
            body = {"user_id": seed["user_id"], "content": "hello from the CLI"}
            async with s.post(f"{base}/channels/{lobby}/messages", json=body) as r:
                assert r.status == 200
            async with s.get(f"{base}/channels/{lobby}/transcript?format=text") as r:
                text = await r.text()
            assert "dev-user:" in text and "hello from the CLI" in text
            async with s.get(f"{base}/invalid-requests") as r:
                assert (await r.json())["limit"] == 10_000
            headers = {"Authorization": f"Bot {info['bot_token']}"}
            async with s.get(info["api_base"] + "/gateway/bot", headers=headers) as r:
                assert (await r.json())["url"] == info["gateway_url"]
            goose = {"Authorization": f"Bot {apps['goose']['bot_token']}"}
            async with s.get(f"{info['api_base']}/guilds/{seed['guild_id']}", headers=goose) as r:
                assert r.status == 200  # the extra bot was invited into the seeded guild
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, stderr.decode()


def test_cephalon_dev_discord_is_registered():
    from cephalon_devkit.cli import build_parser

    args = build_parser().parse_args(["dev", "discord", "--port", "0", "--no-seed"])
    assert args.port == 0 and args.no_seed and callable(args.func)
