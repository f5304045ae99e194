from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from mypy import api as mypy_api

from cephalon_contracts import (
    CONTRACT_VERSION,
    ContractValidationError,
    Envelope,
    ErrorCode,
    PostMessage,
    ResponseDelta,
    TurnRequest,
    UnsupportedContractVersionError,
    decode_envelope,
    encode_envelope,
    envelope,
    to_urn,
)
from cephalon_contracts.events import STREAM_EVENT_TYPES
from cephalon_contracts.examples import envelope_examples

GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = envelope_examples()
OWNER = to_urn("discord", "duck", "user", "1")


def test_every_stream_event_type_has_an_example() -> None:
    assert set(STREAM_EVENT_TYPES) <= set(EXAMPLES)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_serialization_matches_the_golden_file(kind: str) -> None:
    """The JSON form is part of the contract: a change here breaks other components."""
    path = GOLDEN / f"{kind}.json"
    wire = encode_envelope(EXAMPLES[kind])
    if os.environ.get("CEPHALON_UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(json.loads(wire), indent=2) + "\n")
    golden = path.read_text()
    assert json.dumps(json.loads(wire), indent=2) + "\n" == golden  # values and field order
    assert decode_envelope(golden) == EXAMPLES[kind]


def test_envelope_helper_fills_ids_and_defaults_idempotency_key_to_id() -> None:
    message = envelope(
        PostMessage(channel=to_urn("discord", "duck", "channel", "9"), content="hi"),
        provider="discord",
        tenant="duck",
    )
    assert message.idempotency_key == message.id
    assert message.contract_version == CONTRACT_VERSION
    assert message.type == "social.message.post"
    assert message.occurred_at.tzinfo is not None
    assert len(message.trace_id) == 32


def test_envelope_without_tenant_is_refused_at_run_time() -> None:
    wire = json.loads(encode_envelope(EXAMPLES["final"]))
    del wire["tenant"]
    with pytest.raises(ContractValidationError) as info:
        decode_envelope(json.dumps(wire))
    assert info.value.errors == [{"field": "tenant", "problem": "Field required"}]
    assert info.value.error_code is ErrorCode.INTERNAL_CONTRACT_VIOLATION


def test_envelope_without_provider_is_a_type_error(tmp_path: Path) -> None:
    """Publishing without provider/tenant must be impossible by type (mypy + pydantic)."""
    snippet = tmp_path / "publish.py"
    snippet.write_text(
        textwrap.dedent(
            """
            from cephalon_contracts import envelope, Envelope, ResponseDelta
            envelope(ResponseDelta(seq=0, text="x"), tenant="duck")
            Envelope(id="0" * 32, contract_version="1.0", tenant="duck", type="x",
                     trace_id="0" * 32, idempotency_key="k", occurred_at=None,
                     payload=ResponseDelta(seq=0, text="x"))
            """
        )
    )
    config = Path(__file__).parents[2] / "pyproject.toml"
    out, _, status = mypy_api.run(
        ["--config-file", str(config), "--no-incremental", "--cache-dir", os.devnull, str(snippet)]
    )
    assert status == 1, out
    assert 'Missing named argument "provider" for "envelope"' in out
    assert 'Missing named argument "provider" for "Envelope"' in out


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda w: w.update(tenant="Duck"), "tenant"),
        (lambda w: w.update(trace_id="xyz"), "trace_id"),
        (lambda w: w.update(occurred_at="2026-11-22T09:30:00"), "occurred_at"),
        (lambda w: w["payload"].update(seq=-1), "payload.response_delta.seq"),
        (lambda w: w["payload"].update(colour="red"), "payload.response_delta.colour"),
        (lambda w: w.update(session_id="S_1"), "session_id"),
    ],
)
def test_bad_fields_are_named_in_the_error(mutate: object, field: str) -> None:
    wire = json.loads(encode_envelope(EXAMPLES["response_delta"]))
    mutate(wire)  # type: ignore[operator]
    with pytest.raises(ContractValidationError) as info:
        decode_envelope(json.dumps(wire))
    assert field in [e["field"] for e in info.value.errors]


def test_type_must_match_the_payload() -> None:
    wire = json.loads(encode_envelope(EXAMPLES["response_delta"]))
    wire["type"] = "final"
    with pytest.raises(ContractValidationError, match="does not match the payload's type"):
        decode_envelope(json.dumps(wire))


def test_unknown_payload_type_is_refused() -> None:
    wire = json.loads(encode_envelope(EXAMPLES["response_delta"]))
    wire["type"] = wire["payload"]["type"] = "reasoning_delta"
    with pytest.raises(ContractValidationError):
        decode_envelope(json.dumps(wire))


def test_strict_types_do_not_coerce() -> None:
    wire = json.loads(encode_envelope(EXAMPLES["response_delta"]))
    wire["payload"]["seq"] = "3"
    with pytest.raises(ContractValidationError):
        decode_envelope(json.dumps(wire))


def test_newer_minor_version_is_readable_other_major_is_not() -> None:
    wire = json.loads(encode_envelope(EXAMPLES["final"]))
    wire["contract_version"] = "1.7"
    assert decode_envelope(json.dumps(wire)).contract_version == "1.7"
    wire["contract_version"] = "2.0"
    with pytest.raises(UnsupportedContractVersionError) as info:
        decode_envelope(json.dumps(wire))
    assert info.value.error_code is ErrorCode.INTERNAL_UNSUPPORTED_VERSION


def test_not_json_is_a_contract_error() -> None:
    with pytest.raises(ContractValidationError):
        decode_envelope(b"\xff not json")


def test_envelopes_are_immutable() -> None:
    with pytest.raises(ValueError, match="frozen"):
        EXAMPLES["final"].tenant = "goose"  # type: ignore[misc]


def test_envelope_helper_wraps_validation_errors() -> None:
    with pytest.raises(ContractValidationError) as info:
        envelope(
            TurnRequest(text="hi", author=OWNER),
            provider="discord",
            tenant="duck",
            session_id="Not A Label",
        )
    assert [e["field"] for e in info.value.errors] == ["session_id"]


def test_payload_urns_are_validated() -> None:
    with pytest.raises(ValueError, match="not a cephalon URN"):
        TurnRequest(text="hi", author="user-1")


def test_envelope_model_is_exported() -> None:
    assert Envelope.model_fields["provider"].is_required()
    assert Envelope.model_fields["tenant"].is_required()
    assert ResponseDelta(seq=1, text="x").type == "response_delta"
