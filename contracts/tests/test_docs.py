"""docs/contracts.md must keep describing the contracts that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cephalon_contracts import ErrorCode, ErrorEnvelope, decode_envelope
from cephalon_contracts.envelope import Envelope
from cephalon_contracts.examples import payload_examples

DOC = (Path(__file__).parents[2] / "docs" / "contracts.md").read_text()
BLOCKS = [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", DOC, re.S)]


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_error_code_is_documented_with_its_meaning(code: ErrorCode) -> None:
    assert f"| `{code.value}` | {code.description} |" in DOC


@pytest.mark.parametrize("kind", sorted(payload_examples()))
def test_every_message_type_has_a_section_with_a_valid_example(kind: str) -> None:
    assert f"### `{kind}`" in DOC
    example = payload_examples()[kind].model_dump(mode="json")
    assert example in BLOCKS


def test_the_envelope_example_decodes() -> None:
    envelopes = [b for b in BLOCKS if "contract_version" in b]
    assert envelopes
    for block in envelopes:
        assert isinstance(decode_envelope(json.dumps(block)), Envelope)


def test_the_error_example_is_a_valid_error_envelope() -> None:
    errors = [b for b in BLOCKS if "error_code" in b]
    assert errors
    for block in errors:
        ErrorEnvelope.model_validate_json(json.dumps(block))
