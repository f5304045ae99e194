"""The session's Redis streams: turns in (consumer group), control in, events out.

Only commands the session's ACL user may run are used (XADD, XREADGROUP, XREAD, XACK,
XGROUP CREATE, GET/SET/EXISTS, MULTI/EXEC), and only on the session's own keys. Every
stream entry has one field, ``envelope``, holding the envelope's JSON.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import ResponseError

from cephalon_contracts.envelope import (
    Envelope,
    PayloadModel,
    decode_envelope,
    encode_envelope,
    envelope,
)
from cephalon_contracts.errors import ContractError
from cephalon_contracts.keys import heartbeat_key
from cephalon_contracts.topics import session_topic

log = structlog.get_logger("cephalon_runtime.bus")

GROUP = "runtime"
FIELD = "envelope"
#: The events stream is capped (approximately) at this many entries; the gateway reads
#: it as it goes, so only a reader gone for a very long time could miss anything.
EVENTS_MAXLEN = 100_000
#: How long a finished turn's marker is kept (re-deliveries come within minutes).
DONE_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class SessionKeys:
    provider: str
    tenant: str
    session_id: str
    root: str

    def stream(self, name: str) -> str:
        return session_topic(
            provider=self.provider,
            tenant=self.tenant,
            session_id=self.session_id,
            stream=name,
            root=self.root,
        )

    @property
    def turns(self) -> str:
        return self.stream("turns")

    @property
    def events(self) -> str:
        return self.stream("events")

    @property
    def control(self) -> str:
        return self.stream("control")

    @property
    def heartbeat(self) -> str:
        return heartbeat_key(
            provider=self.provider, tenant=self.tenant, session_id=self.session_id, root=self.root
        )

    def turn_done(self, idempotency_key: str) -> str:
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
        return self.stream(f"turn-done.{digest}")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One entry read from a stream: its id and the decoded envelope (or why not)."""

    entry_id: str
    message: Envelope | None
    problem: str | None = None


def _decode(entry_id: str, fields: dict[str, str]) -> Delivery:
    raw = fields.get(FIELD)
    if raw is None:
        return Delivery(entry_id, None, f"entry has no {FIELD!r} field")
    try:
        return Delivery(entry_id, decode_envelope(raw))
    except ContractError as e:
        return Delivery(entry_id, None, e.message)


def _entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """``XREAD``/``XREADGROUP`` replies (RESP2 lists) as (entry id, fields) pairs."""
    out: list[tuple[str, dict[str, str]]] = []
    for _stream, entries in reply or ():
        for entry_id, fields in entries or ():
            out.append((str(entry_id), dict(fields or {})))
    return out


class SessionBus:
    """Reads and writes the session's streams with one Redis connection pool."""

    def __init__(self, client: aioredis.Redis, keys: SessionKeys, consumer: str) -> None:
        self.client = client
        self.keys = keys
        self.consumer = consumer
        self._control_last = "$"

    async def ensure_group(self) -> None:
        try:
            await self.client.xgroup_create(self.keys.turns, GROUP, id="0", mkstream=True)
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    async def start_control(self) -> None:
        """Remember where the control stream ends now: older commands are not replayed."""
        last: Any = await self.client.xrevrange(self.keys.control, count=1)
        self._control_last = str(last[0][0]) if last else "0"

    async def pending_turns(self) -> list[Delivery]:
        """Turns delivered to this consumer before and never acknowledged (a crash)."""
        reply: Any = await self.client.xreadgroup(
            GROUP, self.consumer, {self.keys.turns: "0"}, count=100
        )
        return [_decode(i, f) for i, f in _entries(reply)]

    async def next_turn(self, block_ms: int) -> Delivery | None:
        reply: Any = await self.client.xreadgroup(
            GROUP, self.consumer, {self.keys.turns: ">"}, count=1, block=block_ms
        )
        for entry_id, fields in _entries(reply):
            return _decode(entry_id, fields)
        return None

    async def next_control(self, block_ms: int) -> list[Delivery]:
        reply: Any = await self.client.xread(
            {self.keys.control: self._control_last}, block=block_ms
        )
        out: list[Delivery] = []
        for entry_id, fields in _entries(reply):
            self._control_last = entry_id
            out.append(_decode(entry_id, fields))
        return out

    def wrap(
        self,
        payload: PayloadModel,
        *,
        trace_id: str | None,
        turn_id: str | None,
        idempotency_key: str | None = None,
    ) -> Envelope:
        return envelope(
            payload,
            provider=self.keys.provider,
            tenant=self.keys.tenant,
            trace_id=trace_id,
            session_id=self.keys.session_id,
            turn_id=turn_id,
            idempotency_key=idempotency_key,
        )

    async def publish(self, message: Envelope) -> str:
        entry: Any = await self.client.xadd(
            self.keys.events,
            {FIELD: encode_envelope(message)},
            maxlen=EVENTS_MAXLEN,
            approximate=True,
        )
        return str(entry)

    async def requeue(self, message: Envelope) -> None:
        """Put a turn on the turns stream (a steering message that found no running turn)."""
        await self.client.xadd(self.keys.turns, {FIELD: encode_envelope(message)})

    async def is_done(self, idempotency_key: str) -> bool:
        return bool(await self.client.exists(self.keys.turn_done(idempotency_key)))

    async def finish(self, message: Envelope, entry_id: str | None, idempotency_key: str) -> None:
        """Publish a turn's last event, mark the turn done and acknowledge it — atomically,
        so a crash leaves either all three or none."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.xadd(
                self.keys.events,
                {FIELD: encode_envelope(message)},
                maxlen=EVENTS_MAXLEN,
                approximate=True,
            )
            pipe.set(self.keys.turn_done(idempotency_key), message.id, ex=DONE_TTL_SECONDS)
            if entry_id is not None:
                pipe.xack(self.keys.turns, GROUP, entry_id)
            await pipe.execute()

    async def ack(self, entry_id: str) -> None:
        await self.client.xack(self.keys.turns, GROUP, entry_id)

    async def write_heartbeat(self, body: str, ttl_seconds: int) -> None:
        await self.client.set(self.keys.heartbeat, body, ex=ttl_seconds)


class EventPublisher:
    """Publishes a turn's events in order, batching what piles up into one pipeline.

    A streamed answer produces a delta every few milliseconds; one round trip per delta
    would put Redis latency on every one of them. :meth:`put` never waits; one writer
    task sends everything queued so far in a single pipeline, in order; :meth:`flush`
    waits until all of it is written (before a turn's last event).
    """

    def __init__(self, bus: SessionBus) -> None:
        self._bus = bus
        self._pending: list[Envelope] = []
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._failure: Exception | None = None

    def put(self, message: Envelope) -> None:
        self._pending.append(message)
        self._drained.clear()
        self._wake.set()

    async def flush(self) -> None:
        await self._drained.wait()
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    async with self._bus.client.pipeline(transaction=False) as pipe:
                        for message in batch:
                            pipe.xadd(
                                self._bus.keys.events,
                                {FIELD: encode_envelope(message)},
                                maxlen=EVENTS_MAXLEN,
                                approximate=True,
                            )
                        await pipe.execute()
                except Exception as e:  # reported to the turn at its next flush
                    log.warning("event_publish_failed", error=str(e), dropped=len(batch))
                    self._failure = e
            self._drained.set()
