from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cephalon_contracts import ErrorCode, InvalidUrnError, UrnParts, from_urn, to_urn

name = st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
kind = st.from_regex(r"[a-z0-9]([a-z0-9_-]{0,10}[a-z0-9])?", fullmatch=True)


def test_urn_has_the_documented_shape() -> None:
    assert to_urn("discord", "duck", "user", "42") == "urn:cephalon:discord:duck:user:42"
    assert from_urn("urn:cephalon:discord:duck:user:42") == UrnParts(
        "discord", "duck", "user", "42"
    )


@given(provider=name, tenant=name, kind=kind, id=st.text(min_size=1))
def test_any_id_round_trips_exactly(provider: str, tenant: str, kind: str, id: str) -> None:
    urn = to_urn(provider, tenant, kind, id)
    assert from_urn(urn) == UrnParts(provider, tenant, kind, id)
    assert to_urn(*from_urn(urn)) == urn
    assert urn.isascii() and " " not in urn


def test_colons_and_unicode_in_ids_are_kept() -> None:
    urn = to_urn("bluesky", "duck", "post", "at://did:plc:abc/app.bsky.feed.post/3k ü")
    assert from_urn(urn).id == "at://did:plc:abc/app.bsky.feed.post/3k ü"


@pytest.mark.parametrize(
    "value",
    [
        "urn:other:discord:duck:user:42",
        "urn:cephalon:discord:duck:user",
        "urn:cephalon:discord:duck:user:",
        "urn:cephalon:Discord:duck:user:42",
        "urn:cephalon:discord:duck:user:a%2fb",  # lower-case escape is not canonical
        "urn:cephalon:discord:duck:user:a b",
        "urn:cephalon:discord:duck:user:%ff",
    ],
)
def test_malformed_or_non_canonical_urns_are_refused(value: str) -> None:
    with pytest.raises(InvalidUrnError) as info:
        from_urn(value)
    assert info.value.error_code is ErrorCode.INTERNAL_CONTRACT_VIOLATION


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("Discord", "duck", "user", "1"), "provider"),
        (("discord", "du:ck", "user", "1"), "tenant"),
        (("discord", "duck", "us:er", "1"), "kind"),
        (("discord", "duck", "user", ""), "id"),
    ],
)
def test_bad_parts_name_the_field(args: tuple[str, str, str, str], field: str) -> None:
    with pytest.raises(InvalidUrnError) as info:
        to_urn(*args)
    assert info.value.details["field"] == field
