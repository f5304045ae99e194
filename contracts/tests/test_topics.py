from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cephalon_contracts import (
    ErrorCode,
    InvalidTopicError,
    Topic,
    parse_topic,
    session_topic,
    topic,
)

segment = st.from_regex(r"[a-z0-9]([a-z0-9_-]{0,10}[a-z0-9])?", fullmatch=True)
name_part = st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
dotted = st.lists(segment, min_size=1, max_size=4).map(".".join)
root = st.lists(segment.filter(lambda s: s not in {"p", "t"}), min_size=1, max_size=3).map(".".join)


def test_topic_has_the_documented_shape() -> None:
    assert (
        topic(provider="discord", tenant="duck", area="social", name="message.created")
        == "promethean.p.discord.t.duck.social.message.created"
    )


def test_session_topic_names_the_stream() -> None:
    key = session_topic(provider="discord", tenant="duck", session_id="s-1", stream="events")
    assert key == "promethean.p.discord.t.duck.session.s-1.events"
    assert parse_topic(key) == Topic("discord", "duck", "session", "s-1.events")


def test_root_is_configurable_and_may_be_dotted() -> None:
    key = topic(provider="slack", tenant="acme", area="session", name="x.turns", root="acme.prod")
    assert key == "acme.prod.p.slack.t.acme.session.x.turns"
    assert parse_topic(key).root == "acme.prod"


@given(root=root, provider=name_part, tenant=name_part, area=segment, name=dotted)
def test_format_and_parse_round_trip_exactly(
    root: str, provider: str, tenant: str, area: str, name: str
) -> None:
    key = topic(provider=provider, tenant=tenant, area=area, name=name, root=root)
    parsed = parse_topic(key)
    assert parsed == Topic(provider, tenant, area, name, root)
    assert str(parsed) == key


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"provider": "Discord"}, "provider"),
        ({"tenant": "du.ck"}, "tenant"),
        ({"tenant": ""}, "tenant"),
        ({"area": "social.x"}, "area"),
        ({"area": "Social"}, "area"),
        ({"name": "message..created"}, "name"),
        ({"name": "-created"}, "name"),
        ({"root": "p"}, "root"),
        ({"root": "acme.t"}, "root"),
        ({"root": ""}, "root"),
    ],
)
def test_bad_segments_raise_a_typed_error_naming_the_field(
    kwargs: dict[str, str], field: str
) -> None:
    args = {"provider": "discord", "tenant": "duck", "area": "social", "name": "m"} | kwargs
    with pytest.raises(InvalidTopicError) as info:
        topic(**args)
    assert info.value.error_code is ErrorCode.INTERNAL_CONTRACT_VIOLATION
    assert info.value.details["field"] == field


@pytest.mark.parametrize(
    "value",
    [
        "",
        "promethean",
        "promethean.p.discord.duck.social.x",
        "promethean.p.discord.t.duck.social",
        "p.discord.t.duck.social.x",
        "promethean.p.Discord.t.duck.social.x",
    ],
)
def test_parse_rejects_what_is_not_a_topic(value: str) -> None:
    with pytest.raises(InvalidTopicError):
        parse_topic(value)
