from __future__ import annotations

import pytest

from cephalon_contracts import (
    ContractValidationError,
    ErrorCode,
    ErrorEnvelope,
    InvalidTopicError,
    decode_envelope,
)
from cephalon_contracts.errors import ERROR_CATEGORIES


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_belongs_to_a_documented_class_and_has_a_one_line_meaning(
    code: ErrorCode,
) -> None:
    assert code.category in ERROR_CATEGORIES
    assert code.description and "\n" not in code.description
    assert ErrorCode(code.value) is code


def test_every_class_has_at_least_one_code() -> None:
    assert {code.category for code in ErrorCode} == set(ERROR_CATEGORIES)


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        (ErrorCode.RATE_LIMIT_PROVIDER, True),
        (ErrorCode.TIMEOUT_UPSTREAM, True),
        (ErrorCode.PROVIDER_UNAVAILABLE, True),
        (ErrorCode.AUTH_INVALID_SIGNATURE, False),
        (ErrorCode.POLICY_DENIED, False),
        (ErrorCode.FILES_TOO_LARGE, False),
    ],
)
def test_only_transient_classes_are_retryable_by_default(code: ErrorCode, retryable: bool) -> None:
    assert code.retryable_by_default is retryable


def test_contract_errors_become_safe_envelopes() -> None:
    error = InvalidTopicError("bad topic", details={"field": "tenant", "raw": object()})
    wire = error.to_envelope("4bf92f3577b34da6a3ce929d0e0e4736")
    assert wire == ErrorEnvelope(
        error_code=ErrorCode.INTERNAL_CONTRACT_VIOLATION,
        message="bad topic",
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        retryable=False,
        details={"field": "tenant"},
    )


def test_validation_errors_are_wrapped_with_the_original_as_cause() -> None:
    with pytest.raises(ContractValidationError) as info:
        decode_envelope("{}")
    assert info.value.__cause__ is not None
    assert "id: Field required" in info.value.message


def test_error_envelope_rejects_unknown_codes() -> None:
    with pytest.raises(ValueError):
        ErrorEnvelope.model_validate_json(
            '{"error_code": "AUTH_NOPE", "message": "m", '
            '"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "retryable": false}'
        )
