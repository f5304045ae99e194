"""Application commands (slash commands): the registry Discord keeps per scope
(global, or one guild), with its validation, upsert semantics (same name and type →
same command; a version that changes only when the definition does) and the daily
limit on new commands."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from cephalon_devkit.discord.errors import (
    MAX_DAILY_COMMAND_CREATES,
    UNKNOWN_COMMAND,
    ApiError,
    RateLimitExceeded,
    field_error,
    invalid_form,
    not_found,
    required,
    too_long,
)
from cephalon_devkit.discord.limits import DiscordLimits
from cephalon_devkit.discord.models import Command
from cephalon_devkit.discord.payloads import command_payload
from cephalon_devkit.discord.snowflakes import SnowflakeFactory

_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


class CommandRegistry:
    def __init__(self, limits: DiscordLimits, ids: SnowflakeFactory) -> None:
        self.limits = limits
        self._ids = ids
        self.commands: dict[int, Command] = {}
        self._creates: dict[tuple[int, int | None], list[float]] = {}

    def commands_for(self, app_id: int, guild_id: int | None) -> list[Command]:
        return [
            c
            for c in self.commands.values()
            if c.application_id == app_id and c.guild_id == guild_id
        ]

    def _check_command(self, body: Mapping[str, Any]) -> None:
        name = body.get("name")
        ctype = int(body.get("type") or 1)
        if not isinstance(name, str) or not name:
            raise invalid_form({"name": required()})
        if ctype == 1 and (not _COMMAND_NAME.match(name) or name != name.lower()):
            raise invalid_form(
                {"name": field_error("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")}
            )
        desc = body.get("description") or ""
        if ctype == 1 and not 1 <= len(desc) <= 100:
            raise invalid_form(
                {
                    "description": field_error(
                        "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
                    )
                }
            )
        if len(body.get("options") or []) > 25:
            raise invalid_form({"options": too_long(25)})

    def upsert(
        self, app_id: int, guild_id: int | None, body: Mapping[str, Any]
    ) -> tuple[Command, bool]:
        """Create or replace the command with this name and type; (command, created)."""
        self._check_command(body)
        ctype = int(body.get("type") or 1)
        for c in self.commands_for(app_id, guild_id):
            if c.name == body["name"] and c.type == ctype:
                before = command_payload(c)
                self._fill_command(c, body)
                if command_payload(c) != before:
                    c.version = self._ids.next()
                return c, False
        self._count_create((app_id, guild_id))
        c = Command(
            id=self._ids.next(),
            application_id=app_id,
            guild_id=guild_id,
            name=str(body["name"]),
            description="",
            type=ctype,
            options=[],
            version=self._ids.next(),
        )
        self._fill_command(c, body)
        self.commands[c.id] = c
        return c, True

    def _count_create(self, scope: tuple[int, int | None]) -> None:
        now = time.monotonic()
        window = self.limits.command_creates_window
        stamps = [t for t in self._creates.get(scope, []) if now - t < window]
        if len(stamps) >= self.limits.command_creates_per_day:
            raise RateLimitExceeded(
                stamps[0] + window - now,
                "Max number of daily application command creates has been reached "
                f"({self.limits.command_creates_per_day})",
                MAX_DAILY_COMMAND_CREATES,
            )
        stamps.append(now)
        self._creates[scope] = stamps

    @staticmethod
    def _fill_command(c: Command, body: Mapping[str, Any]) -> None:
        c.description = str(body.get("description") or "")
        c.options = [dict(o) for o in body.get("options") or []]
        dmp = body.get("default_member_permissions")
        c.default_member_permissions = None if dmp is None else str(dmp)
        c.contexts = body.get("contexts")
        c.nsfw = bool(body.get("nsfw", False))
        c.extra = {
            k: v
            for k, v in body.items()
            if k
            in (
                "name_localizations",
                "description_localizations",
                "integration_types",
                "dm_permission",
            )
        }

    def bulk_overwrite(self, app_id: int, guild_id: int | None, bodies: Any) -> list[Command]:
        if not isinstance(bodies, list):
            raise invalid_form(
                {"_errors": [{"code": "LIST_TYPE_CONVERT", "message": "Must be an array."}]}
            )
        for i, b in enumerate(bodies):
            try:
                self._check_command(b)
            except ApiError as e:
                raise invalid_form({str(i): e.errors or {}}) from e
        names = {(b["name"], int(b.get("type") or 1)) for b in bodies}
        for c in self.commands_for(app_id, guild_id):
            if (c.name, c.type) not in names:
                del self.commands[c.id]
        return [self.upsert(app_id, guild_id, b)[0] for b in bodies]

    def delete(self, app_id: int, guild_id: int | None, command_id: int) -> None:
        c = self.commands.get(command_id)
        if c is None or c.guild_id != guild_id or c.application_id != app_id:
            raise not_found(UNKNOWN_COMMAND, "application command")
        del self.commands[command_id]

    def find(self, guild_id: int | None, name: str, app_id: int | None = None) -> Command | None:
        """The chat-input command ``name`` a user in ``guild_id`` can run: a guild
        command before a global one; from ``app_id`` or any application."""
        for scope in (guild_id, None):
            for c in self.commands.values():
                if (
                    c.guild_id == scope
                    and c.name == name
                    and c.type == 1
                    and (app_id is None or c.application_id == app_id)
                ):
                    return c
        return None
