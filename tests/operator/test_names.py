from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from cephalon_operator.names import safe_slug, session_namespace, session_pod_name, with_suffix

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def test_valid_names_are_kept() -> None:
    assert safe_slug("s-1200000000000000001") == "s-1200000000000000001"


def test_invalid_names_get_a_hash_suffix() -> None:
    assert safe_slug("Ada Lovelace") == "ada-lovelace-" + safe_slug("Ada Lovelace")[-8:]
    assert safe_slug("ada-lovelace") != safe_slug("Ada Lovelace")


@given(st.text(max_size=300))
def test_every_slug_is_a_dns_label_and_distinct_inputs_differ(value: str) -> None:
    slug = safe_slug(value)
    assert DNS_LABEL.fullmatch(slug) and len(slug) <= 63
    assert safe_slug(value) == slug
    if slug != value:
        assert safe_slug(value + "x") != slug


@given(st.from_regex(r"[a-z0-9]([-a-z0-9]{0,100}[a-z0-9])?", fullmatch=True))
def test_suffixed_names_stay_labels(base: str) -> None:
    name = with_suffix(base, "credentials")
    assert DNS_LABEL.fullmatch(name) and len(name) <= 63 and name.endswith("-credentials")
    assert session_pod_name(base).endswith("-pod")


def test_session_namespace_default_and_override() -> None:
    assert session_namespace("discord", "duck", None) == "cephalon-discord-duck"
    assert session_namespace("discord", "duck", "agents") == "agents"
