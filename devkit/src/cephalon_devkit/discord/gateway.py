"""The gateway WebSocket: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats,
RESUME with replay, member chunks, and dispatches of what happens in the world.

Frames are plain JSON text (discord.py asks for ``compress=zlib-stream`` but reads
text frames as they come, as it must for Discord's own uncompressed frames). A session
outlives its socket for ``resume_window`` seconds, buffering dispatches, so a client
that reconnects to ``resume_gateway_url`` and sends RESUME gets every event it missed,
in order, then RESUMED.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from cephalon_devkit.discord.limits import DiscordLimits
from cephalon_devkit.discord.payloads import guild_create_payload, member_payload, user_payload
from cephalon_devkit.discord.recording import RecordedDispatch
from cephalon_devkit.discord.state import (
    INTENT_GUILD_MEMBERS,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    Dispatch,
    World,
)
from cephalon_devkit.discord.types import JsonObject

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE_UPDATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

CLOSE_UNKNOWN_ERROR = 4000
CLOSE_UNKNOWN_OPCODE = 4001
CLOSE_DECODE_ERROR = 4002
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_ALREADY_AUTHENTICATED = 4005
CLOSE_RATE_LIMITED = 4008
CLOSE_SESSION_TIMED_OUT = 4009
CLOSE_INVALID_SHARD = 4010
CLOSE_INVALID_INTENTS = 4013
CLOSE_DISALLOWED_INTENTS = 4014

PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | INTENT_MESSAGE_CONTENT
"""GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT."""
KNOWN_INTENTS = (1 << 26) - 1


@dataclass
class GatewaySession:
    id: str
    bot_id: int
    """The bot (= application id) this session belongs to."""
    intents: int
    shard: tuple[int, int] | None
    seq: int = 0
    buffer: deque[tuple[int, str, Any]] = field(default_factory=deque)
    queue: asyncio.Queue[str | None] | None = None
    disconnected_at: float | None = None
    resumes: int = 0

    @property
    def connected(self) -> bool:
        return self.queue is not None


class Gateway:
    def __init__(
        self,
        world: World,
        limits: DiscordLimits,
        *,
        resume_url: Callable[[], str],
        record: Callable[[RecordedDispatch], None],
        allowed_privileged_intents: int = PRIVILEGED_INTENTS,
    ) -> None:
        self.world = world
        self.limits = limits
        self._resume_url = resume_url
        self._record = record
        self.allowed_privileged_intents = allowed_privileged_intents
        self.sessions: dict[str, GatewaySession] = {}
        self.connect_paths: list[str] = []
        """The path of every WebSocket connection, in order (``/gateway``,
        ``/resume-gateway``): tests check that clients resume where told."""
        self.close_codes: list[int] = []
        """Codes the emulator closed connections with (4004, 4014, ...)."""
        self._sockets: set[web.WebSocketResponse] = set()
        self._identifies: dict[int, deque[float]] = {}
        self._starts: dict[int, int] = {}
        self.identify_refusals = 0
        """IDENTIFYs answered with op 9 for exceeding ``max_concurrency``."""
        self._changed = asyncio.Condition()
        self._log = structlog.get_logger("cephalon_devkit.discord.gateway")

    # --- publishing -----------------------------------------------------------------

    def publish(self, d: Dispatch) -> None:
        """World hook: offer ``d`` to every live session that should receive it."""
        self._expire_sessions()
        for s in list(self.sessions.values()):
            data = self._shape_for(s, d)
            if data is not None:
                self._enqueue(s, d.event, data)

    @property
    def session_starts(self) -> int:
        """Accepted IDENTIFYs of all bots (Discord's daily ``session_start_limit``
        counts these per bot: :meth:`session_starts_for`)."""
        return sum(self._starts.values())

    def session_starts_for(self, bot_id: int) -> int:
        return self._starts.get(bot_id, 0)

    def _shape_for(self, s: GatewaySession, d: Dispatch) -> JsonObject | None:
        if not s.intents & d.intent:
            return None
        if d.only_bot_id is not None and d.only_bot_id != s.bot_id:
            return None
        guild = self.world.guilds.get(d.guild_id) if d.guild_id is not None else None
        if guild is not None and s.bot_id not in guild.members:
            return None
        if s.shard is not None and d.guild_id is not None:
            shard_id, count = s.shard
            if (d.guild_id >> 22) % count != shard_id:
                return None
        if d.event.startswith("MESSAGE_") and d.channel_id in self.world.channels:
            if not self.world.can_view(d.channel_id, s.bot_id):
                return None
        data = d.data
        if (
            d.content_gated
            and not s.intents & INTENT_MESSAGE_CONTENT
            and d.author_id != s.bot_id
            and s.bot_id not in d.mentioned_ids
        ):
            data = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
        if d.event == "GUILD_CREATE" and d.guild_id in self.world.guilds:
            data = dict(
                guild_create_payload(
                    self.world,
                    self.world.guilds[d.guild_id],
                    include_members=bool(s.intents & INTENT_GUILD_MEMBERS),
                    bot_id=s.bot_id,
                    joined=d.only_bot_id is not None,
                )
            )
        return data

    def _enqueue(self, s: GatewaySession, event: str, data: Any) -> None:
        s.seq += 1
        s.buffer.append((s.seq, event, data))
        while len(s.buffer) > self.limits.replay_buffer:
            s.buffer.popleft()
        if s.queue is not None:
            self._send(s, s.seq, event, data, replayed=False)

    def _send(self, s: GatewaySession, seq: int, event: str, data: Any, *, replayed: bool) -> None:
        assert s.queue is not None
        s.queue.put_nowait(json.dumps({"op": OP_DISPATCH, "t": event, "s": seq, "d": data}))
        self._record(RecordedDispatch(s.id, seq, event, data, time.time(), replayed))

    def _expire_sessions(self) -> None:
        now = time.monotonic()
        for sid, s in list(self.sessions.items()):
            if (
                s.disconnected_at is not None
                and now - s.disconnected_at > self.limits.resume_window
            ):
                del self.sessions[sid]

    # --- control --------------------------------------------------------------------

    @property
    def connected_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions.values() if s.connected]

    async def wait_for_sessions(self, count: int = 1, *, timeout: float = 10.0) -> None:
        """Wait until ``count`` sessions are connected (READY or RESUMED sent)."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.connected_sessions) >= count), timeout
            )

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def drop_connections(self, code: int = CLOSE_UNKNOWN_ERROR) -> int:
        """Close every socket with ``code`` (4000: resumable, as a network blip);
        sessions stay resumable. Returns how many were closed."""
        sockets = list(self._sockets)
        for ws in sockets:
            await ws.close(code=code, message=b"emulator dropped the connection")
        return len(sockets)

    async def send_reconnect(self) -> None:
        """Op 7 RECONNECT to every socket: the client should reconnect and resume."""
        for ws in list(self._sockets):
            with contextlib.suppress(ConnectionError):
                await ws.send_str(json.dumps({"op": OP_RECONNECT, "d": None}))

    async def invalidate_sessions(self, *, resumable: bool = False) -> None:
        """Op 9 INVALID_SESSION to every socket; non-resumable forgets the sessions."""
        for ws in list(self._sockets):
            with contextlib.suppress(ConnectionError):
                await ws.send_str(json.dumps({"op": OP_INVALID_SESSION, "d": resumable}))
        if not resumable:
            self.sessions.clear()

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"emulator stopping")

    # --- the connection -------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=4 * 1024 * 1024, timeout=5.0)
        await ws.prepare(request)
        self.connect_paths.append(request.path)
        self._sockets.add(ws)
        session: GatewaySession | None = None
        writer: asyncio.Task[None] | None = None
        beats = [time.monotonic()]
        watchdog = asyncio.create_task(self._watch_heartbeats(ws, beats))
        try:
            await ws.send_str(
                json.dumps(
                    {
                        "op": OP_HELLO,
                        "d": {"heartbeat_interval": int(self.limits.heartbeat_interval * 1000)},
                    }
                )
            )
            sent: deque[float] = deque()
            async for msg in ws:
                now = time.monotonic()
                while sent and now - sent[0] >= self.limits.gateway_send_window:
                    sent.popleft()
                if len(sent) >= self.limits.gateway_send_limit:
                    await self._close(ws, CLOSE_RATE_LIMITED, "Rate limited.")
                    break
                sent.append(now)
                if msg.type is not WSMsgType.TEXT:
                    if msg.type is WSMsgType.BINARY:
                        await self._close(ws, CLOSE_DECODE_ERROR, "Decode error")
                    break
                try:
                    frame = json.loads(msg.data)
                    op = frame["op"]
                    data = frame.get("d")
                except (ValueError, KeyError, TypeError):
                    await self._close(ws, CLOSE_DECODE_ERROR, "Decode error")
                    break
                if op == OP_HEARTBEAT:
                    beats[0] = time.monotonic()
                    await ws.send_str(json.dumps({"op": OP_HEARTBEAT_ACK}))
                elif op in (OP_IDENTIFY, OP_RESUME):
                    if session is not None:
                        await self._close(ws, CLOSE_ALREADY_AUTHENTICATED, "Already authenticated")
                        break
                    if op == OP_IDENTIFY:
                        session = await self._identify(ws, data)
                    else:
                        session = await self._resume(ws, data)
                    if session is None:
                        if ws.closed:
                            break
                        continue
                    assert session.queue is not None
                    writer = asyncio.create_task(self._write(ws, session.queue))
                    await self._notify()
                elif session is None:
                    await self._close(ws, CLOSE_NOT_AUTHENTICATED, "Not authenticated")
                    break
                elif op == OP_REQUEST_GUILD_MEMBERS:
                    self._members_chunk(session, data)
                elif op in (OP_PRESENCE_UPDATE, OP_VOICE_STATE_UPDATE):
                    continue
                else:
                    await self._close(ws, CLOSE_UNKNOWN_OPCODE, "Unknown opcode")
                    break
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
            self._sockets.discard(ws)
            if session is not None and session.queue is not None:
                session.queue.put_nowait(None)
                session.queue = None
                session.disconnected_at = time.monotonic()
            if writer is not None:
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
            await self._notify()
        return ws

    async def _watch_heartbeats(self, ws: web.WebSocketResponse, beats: list[float]) -> None:
        """Close a connection whose client stopped heartbeating (a blocked event loop,
        a zombie socket) with 4009, after ``heartbeat_timeout_factor`` intervals."""
        allowed = self.limits.heartbeat_interval * self.limits.heartbeat_timeout_factor
        while not ws.closed:
            late = time.monotonic() - beats[0] - allowed
            if late >= 0:
                await self._close(ws, CLOSE_SESSION_TIMED_OUT, "Session timed out.")
                return
            await asyncio.sleep(min(-late, self.limits.heartbeat_interval) + 0.01)

    async def _close(self, ws: web.WebSocketResponse, code: int, reason: str) -> None:
        self.close_codes.append(code)
        self._log.info("discord_gateway_close", code=code, reason=reason)
        await ws.close(code=code, message=reason.encode())

    @staticmethod
    async def _write(ws: web.WebSocketResponse, queue: asyncio.Queue[str | None]) -> None:
        while True:
            item = await queue.get()
            if item is None or ws.closed:
                return
            try:
                await ws.send_str(item)
            except ConnectionError:
                return

    async def _identify(self, ws: web.WebSocketResponse, data: Any) -> GatewaySession | None:
        bot_id = self._bot_for(data.get("token")) if isinstance(data, dict) else None
        if bot_id is None:
            await self._close(ws, CLOSE_AUTHENTICATION_FAILED, "Authentication failed.")
            return None
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents & ~KNOWN_INTENTS:
            await self._close(ws, CLOSE_INVALID_INTENTS, "Invalid intent(s).")
            return None
        if intents & PRIVILEGED_INTENTS & ~self.allowed_privileged_intents:
            await self._close(ws, CLOSE_DISALLOWED_INTENTS, "Disallowed intent(s).")
            return None
        shard: tuple[int, int] | None = None
        raw_shard = data.get("shard")
        if raw_shard is not None:
            try:
                shard = (int(raw_shard[0]), int(raw_shard[1]))
            except (TypeError, ValueError, IndexError):
                shard = (-1, 0)
            if not 0 <= shard[0] < shard[1]:
                await self._close(ws, CLOSE_INVALID_SHARD, "Invalid shard.")
                return None
        now = time.monotonic()
        recent = self._identifies.setdefault(bot_id, deque())
        while recent and now - recent[0] >= self.limits.identify_window:
            recent.popleft()
        if len(recent) >= self.limits.identify_max_concurrency:
            self.identify_refusals += 1
            await ws.send_str(json.dumps({"op": OP_INVALID_SESSION, "d": False}))
            return None
        if self.session_starts_for(bot_id) >= self.limits.session_start_limit:
            await self._close(ws, CLOSE_AUTHENTICATION_FAILED, "Authentication failed.")
            return None
        recent.append(now)
        self._starts[bot_id] = self.session_starts_for(bot_id) + 1
        s = GatewaySession(id=secrets.token_hex(16), bot_id=bot_id, intents=intents, shard=shard)
        s.queue = asyncio.Queue()
        self.sessions[s.id] = s
        world = self.world
        guild_ids = [
            g
            for g, guild in world.guilds.items()
            if bot_id in guild.members and (shard is None or (g >> 22) % shard[1] == shard[0])
        ]
        ready: JsonObject = {
            "v": 10,
            "user": {**user_payload(world.users[bot_id]), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
            "session_id": s.id,
            "session_type": "normal",
            "resume_gateway_url": self._resume_url(),
            "application": {"id": str(bot_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
        }
        if shard is not None:
            ready["shard"] = list(shard)
        self._enqueue(s, "READY", ready)
        if intents & INTENT_GUILDS:
            for gid in guild_ids:
                g = world.guilds[gid]
                self._enqueue(
                    s,
                    "GUILD_CREATE",
                    dict(
                        guild_create_payload(
                            world,
                            g,
                            include_members=bool(intents & INTENT_GUILD_MEMBERS),
                            bot_id=bot_id,
                        )
                    ),
                )
        self._log.info("discord_gateway_ready", session_id=s.id, intents=intents)
        return s

    async def _resume(self, ws: web.WebSocketResponse, data: Any) -> GatewaySession | None:
        bot_id = self._bot_for(data.get("token")) if isinstance(data, dict) else None
        if bot_id is None:
            await self._close(ws, CLOSE_AUTHENTICATION_FAILED, "Authentication failed.")
            return None
        self._expire_sessions()
        s = self.sessions.get(str(data.get("session_id")))
        if s is not None and s.bot_id != bot_id:
            s = None
        seq = data.get("seq")
        oldest = s.buffer[0][0] if s is not None and s.buffer else 1
        if s is None or s.connected or not isinstance(seq, int) or seq + 1 < oldest:
            await ws.send_str(json.dumps({"op": OP_INVALID_SESSION, "d": False}))
            return None
        s.queue = asyncio.Queue()
        s.disconnected_at = None
        s.resumes += 1
        for item_seq, event, payload in list(s.buffer):
            if item_seq > seq:
                self._send(s, item_seq, event, payload, replayed=True)
        self._enqueue(s, "RESUMED", {})
        self._log.info("discord_gateway_resumed", session_id=s.id, from_seq=seq)
        return s

    def _members_chunk(self, s: GatewaySession, data: Any) -> None:
        if not isinstance(data, dict):
            return
        g = self.world.guilds.get(int(data.get("guild_id") or 0))
        if g is None:
            return
        members = list(g.members.values())
        user_ids = data.get("user_ids")
        if user_ids:
            wanted = {int(u) for u in (user_ids if isinstance(user_ids, list) else [user_ids])}
            members = [m for m in members if m.user_id in wanted]
        query = data.get("query")
        if query:
            members = [
                m
                for m in members
                if self.world.users[m.user_id].name.lower().startswith(str(query).lower())
            ]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: JsonObject = {
            "guild_id": str(g.id),
            "members": [member_payload(self.world, m) for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        self._enqueue(s, "GUILD_MEMBERS_CHUNK", chunk)

    def _bot_for(self, token: Any) -> int | None:
        if not isinstance(token, str):
            return None
        app = self.world.app_by_token(token.removeprefix("Bot "))
        return None if app is None else app.bot_id
