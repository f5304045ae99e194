"""``cephalon dev discord`` / ``python -m cephalon_devkit.discord``: serve the Discord
emulator on a port, seed a guild to play in, and write the connection details (port,
API base, gateway URL, public key, the fake bot token, seeded ids) to a JSON file."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

from cephalon_devkit.discord.server import DiscordEmulator, application_info

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8398, help="port to listen on (0: any)")
    parser.add_argument(
        "--info-file",
        type=Path,
        default=Path("cephalon-dev.discord.json"),
        help="where to write the connection details (JSON, mode 0600)",
    )
    parser.add_argument(
        "--interactions-url",
        help="the gateway's interactions endpoint, e.g. http://127.0.0.1:8080/discord/interactions",
    )
    parser.add_argument(
        "--bot-token-file",
        type=Path,
        help="file holding the bot token to accept (default: a fresh fake token)",
    )
    parser.add_argument("--guild", default="cephalon-dev", help="name of the seeded guild")
    parser.add_argument(
        "--extra-bot",
        action="append",
        default=[],
        metavar="NAME",
        help="another bot application (e.g. a second tenant's), invited into the seeded "
        "guild; repeatable. Its token and key are under 'applications' in the info file",
    )
    parser.add_argument("--no-seed", action="store_true", help="start with no guild")
    parser.set_defaults(func=run)


def seed(emu: DiscordEmulator, guild_name: str) -> dict[str, Any]:
    """A guild with a person (``dev-user``), a ``#lobby`` and a ``sessions`` category."""
    guild = emu.create_guild(guild_name)
    user = emu.create_member(guild.id, "dev-user")
    lobby = emu.create_channel(guild.id, "lobby")
    sessions = emu.create_category(guild.id, "sessions")
    return {
        "guild_id": str(guild.id),
        "owner_id": str(guild.owner_id),
        "user_id": str(user.id),
        "channels": {"lobby": str(lobby.id), "sessions": str(sessions.id)},
    }


def write_info(path: Path, info: dict[str, Any]) -> None:
    """Write atomically (a reader never sees half a file), readable only by the user."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    token = None
    if args.bot_token_file:
        token = args.bot_token_file.read_text(encoding="utf-8").strip()
    emu = DiscordEmulator(
        host=args.host, port=args.port, bot_token=token, interactions_url=args.interactions_url
    )
    await emu.start()
    info = emu.connection_info()
    extra = [emu.create_application(name) for name in args.extra_bot]
    if not args.no_seed:
        info["seed"] = seed(emu, args.guild)
        for app in extra:
            emu.add_bot(int(info["seed"]["guild_id"]), app)
    info["applications"] = [application_info(app) for app in emu.applications]
    write_info(args.info_file, info)
    logger.info("Discord emulator serving at %s; details in %s", emu.url, args.info_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        logger.info("stopping the Discord emulator")
        await emu.stop()
    return 0
