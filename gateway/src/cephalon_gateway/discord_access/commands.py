"""Session slash commands: their definitions, per-guild registration synced only when
they change, and what each does. Only the session's owner (or the tenant's operator
roles) may drive a session; anyone else gets an ephemeral refusal."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from cephalon_contracts.resources import SessionPhase

from .access import Actor, require_driver
from .attachments import IncomingAttachment
from .context import GatewayContext
from .errors import ForbiddenError, SessionNotFound
from .followups import Responder
from .lifecycle import Lifecycle
from .payloads import InteractionData
from .sessions import SessionRecord
from .turns import load_overrides, save_overrides, send_cancel, submit_turn

log = structlog.get_logger(__name__)

STRING, ATTACHMENT = 3, 11


def _option(
    name: str, description: str, kind: int = STRING, required: bool = True
) -> dict[str, Any]:
    return {"type": kind, "name": name, "description": description, "required": required}


COMMANDS: list[dict[str, Any]] = [
    {"name": "ask", "description": "Ask the agent something (optionally with a file)",
     "options": [_option("text", "What to ask"),
                 _option("file", "A file for the agent", ATTACHMENT, required=False)]},
    {"name": "provider", "description": "Show the model provider and models of this session"},
    {"name": "model", "description": "Choose the model for the next turns",
     "options": [_option("name", "Model name")]},
    {"name": "agent", "description": "Choose the agent profile for the next turns",
     "options": [_option("name", "Agent name")]},
    {"name": "skill", "description": "Turn a skill on or off for this session",
     "options": [_option("name", "Skill name")]},
    {"name": "mcp", "description": "Turn an MCP server on or off for this session",
     "options": [_option("name", "MCP server name")]},
    {"name": "status", "description": "Show this session's status"},
    {"name": "cancel", "description": "Stop the running turn"},
    {"name": "end", "description": "End this session and lock the channel"},
]  # fmt: skip
for _command in COMMANDS:
    _command.setdefault("type", 1)
    _command.setdefault("options", [])


def _normalize(command: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": command.get("name"),
        "description": command.get("description"),
        "type": command.get("type", 1),
        "options": [
            {k: o.get(k) for k in ("type", "name", "description")}
            | {"required": bool(o.get("required", False))}
            for o in command.get("options") or []
        ],
    }


def commands_hash(commands: list[dict[str, Any]]) -> str:
    canonical = json.dumps([_normalize(c) for c in commands], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def sync_commands(ctx: GatewayContext, guild_id: str) -> bool:
    """Register the session commands in ``guild_id`` if Discord's differ; ``True`` when
    they were written."""
    wanted = commands_hash(COMMANDS)
    key = ctx.space.gateway(f"commands.{guild_id}")
    if await ctx.redis.get(key) == wanted:
        return False
    current = await ctx.rest.guild_commands(guild_id)
    if commands_hash(sorted(current, key=lambda c: str(c.get("name")))) == commands_hash(
        sorted(COMMANDS, key=lambda c: str(c["name"]))
    ):
        await ctx.redis.set(key, wanted)
        return False
    await ctx.rest.put_guild_commands(guild_id, COMMANDS)
    await ctx.redis.set(key, wanted)
    log.info("commands_synced", guild_id=guild_id, count=len(COMMANDS))
    return True


@dataclass(frozen=True, slots=True)
class Invocation:
    name: str
    options: dict[str, Any]
    attachments: dict[str, IncomingAttachment]


def parse_invocation(data: InteractionData) -> Invocation:
    resolved = data.get("resolved", {}).get("attachments", {})
    attachments = {
        key: IncomingAttachment(
            id=a["id"],
            filename=a["filename"],
            size=int(a["size"]),
            url=a["url"],
            content_type=a.get("content_type", "application/octet-stream"),
        )
        for key, a in resolved.items()
    }
    options = {o["name"]: o.get("value") for o in data.get("options", [])}
    return Invocation(name=data.get("name", ""), options=options, attachments=attachments)


class Commands:
    def __init__(self, ctx: GatewayContext, lifecycle: Lifecycle, http: httpx.AsyncClient) -> None:
        self.ctx = ctx
        self.lifecycle = lifecycle
        self.http = http

    def session_for(self, actor: Actor) -> SessionRecord:
        record = self.ctx.sessions.by_channel(actor.channel_id or "")
        if record is None:
            raise SessionNotFound("This command works only in a Cephalon session channel.")
        return record

    async def handle(
        self, invocation: Invocation, actor: Actor, responder: Responder, interaction_id: str
    ) -> None:
        record = self.session_for(actor)
        spec = self.ctx.tenant.spec
        name = invocation.name
        if name in ("status", "provider"):
            await responder.reply(self._describe(record, name))
            return
        require_driver(spec, actor, record.owner_id)
        value = str(invocation.options.get("name") or "").strip()
        if name == "ask":
            text = str(invocation.options.get("text") or "")
            files = []
            if invocation.options.get("file") is not None:
                attachment = invocation.attachments.get(str(invocation.options["file"]))
                if attachment is not None:
                    files.append(attachment)
            if not record.active:
                await responder.reply("This session has ended.")
                return
            await submit_turn(
                self.ctx,
                self.http,
                record,
                actor,
                text,
                files,
                idempotency_key=f"discord-interaction:{interaction_id}",
            )
            await responder.reply(f"📨 Sent to the agent: {text[:1500]}")
        elif name == "model":
            allowed = spec.models.allowed
            if allowed and value not in allowed:
                await responder.reply(
                    f"`{value}` is not allowed here. Models: {', '.join(allowed)}."
                )
                return
            await self._override(record, model=value)
            await responder.reply(f"The next turns use the model `{value}`.")
        elif name == "agent":
            await self._override(record, agent=value)
            await responder.reply(f"The next turns use the agent `{value}`.")
        elif name in ("skill", "mcp"):
            if name == "mcp" and value not in {m.name for m in spec.mcp_servers}:
                names = ", ".join(m.name for m in spec.mcp_servers) or "none"
                await responder.reply(f"`{value}` is not an MCP server of this server ({names}).")
                return
            current = await load_overrides(self.ctx, record.name)
            field = "skills" if name == "skill" else "mcp_servers"
            items = list(getattr(current, field) or [])
            enabled = value not in items
            items = [*items, value] if enabled else [i for i in items if i != value]
            await self._override(record, **{field: items})
            state = "on" if enabled else "off"
            await responder.reply(
                f"{'Skill' if name == 'skill' else 'MCP server'} `{value}` is {state}."
            )
        elif name == "cancel":
            await send_cancel(self.ctx, record, actor)
            await responder.reply("Cancelling the running turn.")
        elif name == "end":
            await self.lifecycle.end(record)
            await responder.reply("Session ended; the channel is locked.")
        else:
            raise ForbiddenError(f"Unknown command /{name}.")

    async def _override(self, record: SessionRecord, **changes: Any) -> None:
        current = await load_overrides(self.ctx, record.name)
        await save_overrides(self.ctx, record.name, current.model_copy(update=changes))

    def _describe(self, record: SessionRecord, what: str) -> str:
        spec = self.ctx.tenant.spec
        if what == "provider":
            models = ", ".join(spec.models.allowed) or spec.models.default
            return (
                f"Provider: `{spec.models.upstream.kind.value}` · default model "
                f"`{spec.models.default}` · allowed: {models}"
            )
        status = record.status
        progress = status.progress
        text = f"Session `{record.name}`: **{status.phase.value}**"
        if status.message:
            text += f" — {status.message}"
        text += f"\nTurns: {status.turns} · tokens: {status.usage.total_tokens}"
        if progress.step and status.phase == SessionPhase.RUNNING:
            text += f"\nNow: {progress.step} {progress.message}".rstrip()
        return text
