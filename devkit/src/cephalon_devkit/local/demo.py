"""``cephalon demo``: a scripted conversation per tenant, played by emulated users.

For every tenant of ``providers.yml`` at once, a user of that tenant's guild clicks
**Start Chat**, waits for the session to be ready, asks for a change in the sample
repository, approves the one restricted tool call (``workspace-publish``) when the
approval prompt appears, reads the streamed answer and ends the session with ``/end``.
Everything between the user and the model is the real product: gateway, operator,
session pod with the runtime, the Copilot CLI and the MCP sidecar, model gateway.

Timings come from the emulated Discord's own records (when the interaction was
answered, when the channel and messages were made, when each request that showed
text completed) and from the runtime's event envelopes (when the first answer delta
was produced), so they measure the product, not the demo's polling.

With two or more tenants the demo then checks that they stayed apart: sessions only
in their own namespace, each gateway's Redis user refused on another tenant's
streams, no session's id in another tenant's channels.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar, cast

import redis.asyncio as aioredis
from redis.exceptions import NoPermissionError

from cephalon_contracts import decode_envelope
from cephalon_contracts.topics import DEFAULT_ROOT, session_topic
from cephalon_devkit.discord import DiscordEmulator, Interaction, Message
from cephalon_devkit.discord.snowflakes import snowflake_time
from cephalon_devkit.local.kubeapi import Obj, resource_path
from cephalon_devkit.local.stack import RELEASE_NAMESPACE, LocalStack, LocalTenant
from cephalon_devkit.polling import until

T = TypeVar("T")
ASK = "Please add a --shout option to greet.py, then publish the change for review."
START_ID = "cephalon:start"
APPROVE_PREFIX = "cephalon:approve:"
STEP_TIMEOUT = 180.0
LOADING = 1 << 7
"""Message flag of a deferred interaction's "is thinking" placeholder."""


class DemoError(RuntimeError):
    """The conversation did not go as scripted; the message says where it stopped."""


@dataclass
class Timings:
    """Seconds; see ``docs/local-mode.md`` for how each is measured."""

    start_chat_to_ack: float
    start_chat_to_channel: float
    start_chat_to_ready: float
    first_delta_to_visible: float
    ask_to_answer: float


@dataclass
class Conversation:
    tenant: str
    session: str
    namespace: str
    channel_id: int
    timings: Timings
    transcript: str = ""
    approved_tool: str = ""


@dataclass
class Isolation:
    checks: list[str] = field(default_factory=list)


def _components(message: Message) -> list[dict[str, Any]]:
    buttons: list[dict[str, Any]] = []
    for row in message.components:
        buttons.extend(row.get("components", []))
    return buttons


def _button(message: Message, prefix: str) -> str | None:
    for component in _components(message):
        custom_id = str(component.get("custom_id", ""))
        if custom_id.startswith(prefix) and not component.get("disabled"):
            return custom_id
    return None


async def _wait(
    probe: Callable[[], Awaitable[T | None]], what: str, timeout: float = STEP_TIMEOUT
) -> T:
    return await until(probe, timeout=timeout, what=what, error=DemoError)


class Demo:
    def __init__(self, stack: LocalStack) -> None:
        if stack.discord is None or stack.redis is None:
            raise DemoError("the demo needs the Discord emulator (it plays the users)")
        self.stack = stack
        self.emu: DiscordEmulator = stack.discord
        self._redis = aioredis.Redis(
            host=stack.redis.host,
            port=stack.redis.port,
            username=stack.redis.admin_user,
            password=stack.redis.admin_password,
            decode_responses=True,
        )

    async def aclose(self) -> None:
        await self._redis.aclose()

    # ----------------------------------------------------------------- one tenant

    async def converse(self, tenant: LocalTenant) -> Conversation:
        world = tenant.world
        assert world is not None
        emu, user = self.emu, world.user
        progress = self.stack.progress
        label = f"demo {tenant.name}"

        async def start_message() -> Message | None:
            return next((m for m in emu.messages(world.lobby.id) if _button(m, START_ID)), None)

        start = await _wait(start_message, f"{tenant.name}'s Start Chat message")
        earlier = {c.id for c in emu.world.channels.values() if c.parent_id == world.category.id}
        progress.update(label, "clicking", "Start Chat")
        clicked_at = time.time()
        interaction = await emu.click_button(start, START_ID, user)
        if not interaction.acknowledged or interaction.responded_after is None:
            raise DemoError(f"{tenant.name}: Start Chat was not acknowledged: {interaction}")

        async def session_channel() -> int | None:
            for channel in emu.world.channels.values():
                if channel.parent_id == world.category.id and channel.id not in earlier:
                    return channel.id
            return None

        channel_id = await _wait(session_channel, f"{tenant.name}'s session channel")
        progress.update(label, "channel", f"#{emu.world.channels[channel_id].name}")
        session = await self._session_of(tenant, channel_id)
        ready = await self._message(channel_id, lambda m: "session is ready" in m.content)
        progress.update(label, "ready", f"session {session}")

        asked = emu.post_message(channel_id, user, ASK)
        prompt = await self._message(channel_id, lambda m: _button(m, APPROVE_PREFIX) is not None)
        approve = _button(prompt, APPROVE_PREFIX)
        assert approve is not None
        progress.update(label, "approving", "workspace-publish")
        await emu.click_button(prompt, approve, user)
        answer = await self._message(
            channel_id, lambda m: "python greet.py Ada --shout" in m.content
        )
        delta_at, delta_text = await self._first_delta(tenant, session)
        visible_at = self._visible_at(channel_id, delta_text, delta_at)
        answered_at = self._last_change(channel_id, "python greet.py Ada --shout")
        progress.update(label, "answered", f"{len(answer.content)} characters shown")

        ended = await emu.run_command(channel_id, user, "end", app=world.app)
        await self._message(channel_id, lambda m: f"Session `{session}` ended" in m.content)
        await self._gone(tenant, session)
        await self._answered(ended)
        progress.update(label, "ended", "session pod removed")
        timings = Timings(
            start_chat_to_ack=interaction.responded_after,
            start_chat_to_channel=snowflake_time(channel_id) - clicked_at,
            start_chat_to_ready=snowflake_time(ready.id) - clicked_at,
            first_delta_to_visible=visible_at - delta_at,
            ask_to_answer=answered_at - snowflake_time(asked.id),
        )
        return Conversation(
            tenant=tenant.name,
            session=session,
            namespace=tenant.namespace,
            channel_id=channel_id,
            timings=timings,
            transcript=emu.render_transcript(channel_id),
            approved_tool="workspace-publish",
        )

    async def _message(self, channel_id: int, predicate: Callable[[Message], bool]) -> Message:
        async def probe() -> Message | None:
            return next((m for m in self.emu.messages(channel_id) if predicate(m)), None)

        return await _wait(probe, f"a message in channel {channel_id}")

    async def _answered(self, interaction: Interaction) -> None:
        """Until a deferred command's "is thinking" placeholder got its real answer."""

        async def probe() -> bool:
            return any(
                str((m.interaction_metadata or {}).get("id")) == str(interaction.id)
                and not m.flags & LOADING
                for m in self.emu.messages(interaction.channel_id or 0, include_ephemeral=True)
            )

        await _wait(probe, f"the answer to interaction {interaction.id}", timeout=30)

    async def _session_of(self, tenant: LocalTenant, channel_id: int) -> str:
        path = resource_path("cephalon.dev/v1alpha1", "agentsessions", tenant.namespace)

        async def probe() -> str | None:
            for obj in await self.stack.api.items(path):
                if obj["spec"]["conversation"]["channel"] == str(channel_id):
                    return str(obj["metadata"]["name"])
            return None

        return await _wait(probe, f"the AgentSession of channel {channel_id}")

    async def _gone(self, tenant: LocalTenant, session: str) -> None:
        path = resource_path("v1", "pods", tenant.namespace)

        async def probe() -> bool:
            pods = await self.stack.api.items(path)
            return not any(p["metadata"]["name"].startswith(session) for p in pods)

        await _wait(probe, f"the pod of {session} to be removed")

    async def _first_delta(self, tenant: LocalTenant, session: str) -> tuple[float, str]:
        """When the runtime produced the turn's first answer delta, and its text."""
        key = session_topic(
            provider=tenant.entry.provider,
            tenant=tenant.entry.tenant,
            session_id=session,
            stream="events",
            root=DEFAULT_ROOT,
        )
        entries = cast(list[tuple[str, dict[str, str]]], await self._redis.xrange(key))
        for _, fields in entries:
            env = decode_envelope(fields["envelope"])
            text = getattr(env.payload, "text", "")
            if env.type == "response_delta" and text.strip():
                return env.occurred_at.timestamp(), text
        raise DemoError(f"{session}: no answer delta in {key}")

    def _visible_at(self, channel_id: int, text: str, since: float) -> float:
        """When the first request that put ``text`` into the channel completed."""
        snippet = json.dumps(text.strip()[:10], ensure_ascii=False)[1:-1]
        for request in self.emu.requests:
            if (
                request.ok
                and f"/channels/{channel_id}/" in request.path
                and request.started_at + request.duration >= since
                and snippet in json.dumps(request.body, ensure_ascii=False)
            ):
                return request.started_at + request.duration
        raise DemoError(f"the first answer delta {text!r} never reached channel {channel_id}")

    def _last_change(self, channel_id: int, text: str) -> float:
        """When the last request that showed ``text`` completed (the answer's final
        form: streaming ends with it)."""
        done = [
            r.started_at + r.duration
            for r in self.emu.requests
            if r.ok and f"/channels/{channel_id}/" in r.path and text in json.dumps(r.body)
        ]
        if not done:
            raise DemoError(f"channel {channel_id} never showed {text!r}")
        return max(done)

    # ----------------------------------------------------------------- isolation

    async def check_isolation(self, conversations: list[Conversation]) -> Isolation:
        """Tenants never see each other's sessions, streams or channels."""
        result = Isolation()
        tenants = {t.name: t for t in self.stack.tenants}
        everything = await self.stack.api.items(
            resource_path("cephalon.dev/v1alpha1", "agentsessions")
        )
        for obj in everything:
            owner = f"{obj['spec']['provider']}-{obj['spec']['tenant']}"
            namespace = obj["metadata"]["namespace"]
            if tenants[owner].namespace != namespace:
                raise DemoError(f"session {obj['metadata']['name']} of {owner} is in {namespace}")
        result.checks.append(f"{len(everything)} sessions, each only in its own tenant's namespace")
        for mine in conversations:
            client = await self._gateway_redis(tenants[mine.tenant])
            try:
                for other in conversations:
                    if other.tenant == mine.tenant:
                        continue
                    theirs = tenants[other.tenant]
                    key = session_topic(
                        provider=theirs.entry.provider,
                        tenant=theirs.entry.tenant,
                        session_id=other.session,
                        stream="events",
                    )
                    try:
                        await client.xrange(key, count=1)
                    except NoPermissionError:
                        pass
                    else:
                        raise DemoError(f"{mine.tenant}'s gateway could read {key}")
                    if other.session in mine.transcript or str(other.channel_id) in mine.transcript:
                        raise DemoError(f"{mine.tenant}'s channel mentions {other.session}")
            finally:
                await client.aclose()
        result.checks.append("each gateway's Redis user gets NOPERM on other tenants' streams")
        result.checks.append("no channel shows another tenant's session")
        return result

    async def _gateway_redis(self, tenant: LocalTenant) -> aioredis.Redis:
        """A Redis client logged in as the tenant's gateway (from the Secret the operator
        made for it, found through the gateway Deployment's ``redis`` volume)."""
        deployments = await self.stack.api.items(
            resource_path("apps/v1", "deployments", RELEASE_NAMESPACE)
        )
        secret_name = next(
            v["secret"]["secretName"]
            for d in deployments
            if d["metadata"]["labels"].get("cephalon.dev/tenant") == tenant.entry.tenant
            and d["metadata"]["labels"].get("app.kubernetes.io/component") == "gateway"
            for v in d["spec"]["template"]["spec"]["volumes"]
            if v["name"] == "redis"
        )
        secret: Obj | None = await self.stack.api.get(
            resource_path("v1", "secrets", RELEASE_NAMESPACE, secret_name)
        )
        if secret is None:
            raise DemoError(f"Secret {secret_name} is missing")
        data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        assert self.stack.redis is not None
        return aioredis.Redis(
            host=self.stack.redis.host,
            port=self.stack.redis.port,
            username=data["username"],
            password=data["password"],
            decode_responses=True,
        )


@dataclass
class DemoResult:
    conversations: list[Conversation]
    isolation: Isolation

    def as_json(self) -> dict[str, Any]:
        return {
            "conversations": [
                {k: v for k, v in asdict(c).items() if k != "transcript"}
                for c in self.conversations
            ],
            "isolation": self.isolation.checks,
        }


async def play(stack: LocalStack) -> DemoResult:
    """Every tenant's conversation at once, then the isolation checks."""
    demo = Demo(stack)
    try:
        conversations = await asyncio.gather(*(demo.converse(t) for t in stack.tenants))
        isolation = (
            await demo.check_isolation(list(conversations))
            if len(conversations) > 1
            else Isolation(["one tenant: nothing to isolate"])
        )
        return DemoResult(list(conversations), isolation)
    finally:
        await demo.aclose()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def timing_table(result: DemoResult) -> str:
    header = (
        "tenant",
        "Start Chat → ACK",
        "→ channel created",
        "→ session Ready",
        "first delta → visible",
        "ask → full answer",
    )
    rows = [
        (
            c.tenant,
            _ms(c.timings.start_chat_to_ack),
            _ms(c.timings.start_chat_to_channel),
            _ms(c.timings.start_chat_to_ready),
            _ms(c.timings.first_delta_to_visible),
            _ms(c.timings.ask_to_answer),
        )
        for c in result.conversations
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)
