"""Fast tests of the small pure parts: coalescing, custom ids, access rules, steer
prefix, attachment checks, rate-limit header parsing and the GCRA step."""

from __future__ import annotations

import pytest

from cephalon_contracts import TurnMode
from cephalon_contracts.resources import AttachmentsSpec, ProviderTenantSpec
from cephalon_gateway.discord_access.access import Actor, check_allowed, may_approve, may_drive
from cephalon_gateway.discord_access.attachments import IncomingAttachment, check_attachment
from cephalon_gateway.discord_access.coalesce import Coalescer, EditClock
from cephalon_gateway.discord_access.context import nonce
from cephalon_gateway.discord_access.custom_ids import approve_id, parse_custom_id
from cephalon_gateway.discord_access.errors import (
    AttachmentTooLarge,
    AttachmentTypeNotAllowed,
    ForbiddenError,
)
from cephalon_gateway.discord_access.ratelimit import gcra, parse_rate_limit
from cephalon_gateway.discord_access.render import TurnView
from cephalon_gateway.discord_access.start_chat import channel_name, session_overwrites
from cephalon_gateway.discord_access.turns import split_steer


def tenant(**overrides: object) -> ProviderTenantSpec:
    base: dict[str, object] = {
        "provider": "discord",
        "tenant": "duck",
        "credentialsSecretRef": {"name": "creds"},
        "models": {"default": "gpt-4.1"},
    }
    return ProviderTenantSpec.model_validate(base | overrides)


def test_edit_clock_allows_one_edit_per_interval() -> None:
    clock = EditClock(1.0)
    assert clock.wait("m", 10.0) == 0
    clock.edited("m", 10.0)
    assert clock.wait("m", 10.4) == pytest.approx(0.6)
    assert clock.wait("m", 11.0) == 0
    assert clock.wait("other", 10.1) == 0


def test_coalescer_orders_deltas_and_ignores_duplicates() -> None:
    c = Coalescer()
    assert c.add(0, "a")
    assert not c.add(2, "c")  # gap: waits for 1
    assert c.text == "a"
    assert c.add(1, "b")
    assert c.text == "abc"
    assert not c.add(1, "b")
    assert c.dirty
    c.shown = c.text
    assert not c.dirty


def test_turn_view_survives_json_and_reorders() -> None:
    view = TurnView(turn_id="t")
    view.add_delta(1, "world")
    view.add_delta(0, "hello ")
    again = TurnView.from_json(view.to_json())
    assert again.text == "hello world"
    assert again.next_seq == 2
    assert not again.add_delta(0, "hello ")


def test_custom_ids_round_trip() -> None:
    value = approve_id("s-123", "req-1")
    assert value == "cephalon:approve:s-123:req-1"
    parsed = parse_custom_id(value)
    assert parsed is not None and (parsed.action, parsed.session, parsed.request) == (
        "approve",
        "s-123",
        "req-1",
    )
    assert parse_custom_id("other:thing") is None


def test_nonce_is_short_and_stable() -> None:
    assert nonce("s", "t", "0") == nonce("s", "t", "0")
    assert len(nonce("s", "t", "0")) == 25
    assert nonce("s", "t", "0") != nonce("s", "t", "1")


def test_allow_rules() -> None:
    spec = tenant(allow={"guilds": ["1"], "roles": ["r"]})
    check_allowed(spec, Actor("u", "ada", frozenset({"r"}), guild_id="1"))
    with pytest.raises(ForbiddenError, match="server"):
        check_allowed(spec, Actor("u", "ada", frozenset({"r"}), guild_id="2"))
    with pytest.raises(ForbiddenError, match="roles"):
        check_allowed(spec, Actor("u", "ada", frozenset(), guild_id="1"))
    check_allowed(tenant(), Actor("u", "ada"))


def test_owner_and_operator_roles_drive() -> None:
    spec = tenant(gateway={"operatorRoles": ["ops"]}, approvals={"roles": ["approver"]})
    assert may_drive(spec, Actor("owner", "a"), "owner")
    assert may_drive(spec, Actor("x", "a", frozenset({"ops"})), "owner")
    assert not may_drive(spec, Actor("x", "a", frozenset({"approver"})), "owner")
    assert may_approve(spec, Actor("x", "a", frozenset({"approver"})), "owner")
    assert not may_approve(spec, Actor("x", "a"), "owner")


def test_steer_prefix() -> None:
    assert split_steer("!stop that", "!") == ("stop that", TurnMode.IMMEDIATE)
    assert split_steer("hello", "!") == ("hello", TurnMode.QUEUE)


def test_attachment_checks() -> None:
    spec = AttachmentsSpec(max_bytes=100, allowed_types=["text/plain"])
    ok = IncomingAttachment("1", "a.txt", 10, "u", "text/plain; charset=utf-8")
    check_attachment(spec, ok)
    with pytest.raises(AttachmentTooLarge, match="up to 100 bytes"):
        check_attachment(spec, IncomingAttachment("1", "big.txt", 101, "u", "text/plain"))
    with pytest.raises(AttachmentTypeNotAllowed, match="application/zip"):
        check_attachment(spec, IncomingAttachment("1", "a.zip", 1, "u", "application/zip"))


def test_parse_rate_limit_headers_and_429_body() -> None:
    info = parse_rate_limit(
        200,
        {
            "X-RateLimit-Bucket": "abc",
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": "1.5",
        },
    )
    assert (info.bucket, info.limit, info.remaining, info.reset_after) == ("abc", 5, 0, 1.5)
    assert not info.limited
    limited = parse_rate_limit(429, {"X-RateLimit-Global": "true"}, {"retry_after": 0.25})
    assert limited.limited and limited.is_global and limited.retry_after == 0.25
    from_header = parse_rate_limit(429, {"Retry-After": "2"})
    assert from_header.retry_after == 2.0


def test_gcra_keeps_rate_with_burst() -> None:
    tat, now, sent = 0.0, 0.0, 0
    # 40/s with a burst of 5: in one simulated second, at most 45 go.
    while now < 1000.0:
        wait, new_tat = gcra(tat, now, 25.0, 5)
        if wait == 0:
            tat = new_tat
            sent += 1
        else:
            now += wait
    assert 40 <= sent <= 46


def test_channel_names_and_overwrites() -> None:
    assert channel_name("Ada Lovelace!", "s-1").startswith("ada-lovelace-")
    assert len(channel_name("x" * 80, "s-1")) <= 27
    overwrites = session_overwrites("g", "owner", "bot", ["ops"])
    everyone = next(o for o in overwrites if o["id"] == "g")
    assert int(everyone["deny"]) & (1 << 10)
    assert {o["id"] for o in overwrites} == {"g", "owner", "bot", "ops"}
