"""Pure parts: redaction, Retry-After, backoff, the circuit breaker, SSE splitting."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from cephalon_gateway.model_access.breaker import BreakerState, CircuitBreaker
from cephalon_gateway.model_access.errors import CircuitOpenError
from cephalon_gateway.model_access.redaction import RedactingFilter, Redactor
from cephalon_gateway.model_access.retrying import RetryPolicy, parse_retry_after
from cephalon_gateway.model_access.settings import RetrySettings
from cephalon_gateway.model_access.sse import SseSplitter, event_fields, usage_of

KEY = "sk-cephalon-test-0123456789abcdef0123"


@pytest.mark.parametrize(
    "text",
    [
        f"upstream said: Incorrect API key provided: {KEY}",
        "Authorization: Bearer abc.def-ghi_jkl",
        '{"authorization": "Bearer tok_123456"}',
        "headers={'api-key': 'azure0123456789'}",
        "x-api-key=anthropic-secret-value",
        "token ghp_" + "fake" * 9,
        "my-known-secret-value in a sentence",
    ],
)
def test_redactor_removes_credentials(text: str) -> None:
    redactor = Redactor(["my-known-secret-value"])
    cleaned = redactor.text(text)
    assert "[REDACTED]" in cleaned
    secrets = [KEY, "abc.def-ghi_jkl", "tok_123456", "azure0123456789"]
    secrets += ["anthropic-secret-value", "ghp_fake", "my-known-secret-value"]
    for secret in secrets:
        assert secret not in cleaned


def test_redactor_as_structlog_processor_and_logging_filter() -> None:
    redactor = Redactor([KEY])
    event = redactor(None, "info", {"event": "x", "api_key": "plain", "nested": {"k": [KEY]}})
    assert event == {"event": "x", "api_key": "[REDACTED]", "nested": {"k": ["[REDACTED]"]}}
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "sent %s", (KEY,), None)
    RedactingFilter(redactor).filter(record)
    assert record.getMessage() == "sent [REDACTED]"


def test_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250", "Retry-After": "2"}) == 0.25
    now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after({"Retry-After": "Sun, 22 Nov 2026 12:00:05 GMT"}, now=now) == 5.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_grows_with_jitter_and_respects_limits() -> None:
    policy = RetryPolicy(
        RetrySettings(attempts=4, base_delay_s=0.5, max_delay_s=1.5, max_retry_after_s=5),
        rng=lambda low, high: high,
    )
    assert [policy.delay(a, None) for a in range(4)] == [0.5, 1.0, 1.5, None]
    low = RetryPolicy(policy.settings, rng=lambda low, high: low)
    assert low.delay(0, None) == 0.25  # at least half the step
    assert policy.delay(0, 3.0) == 3.0  # the provider's Retry-After wins
    assert policy.delay(0, 30.0) is None  # too long to hold the request: pass it on


def test_circuit_breaker_opens_half_opens_and_closes() -> None:
    now = [0.0]
    breaker = CircuitBreaker("u", failure_threshold=2, reset_s=10, clock=lambda: now[0])
    breaker.record_failure()
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError) as refused:
        breaker.before_call()
    assert refused.value.retry_after == 10
    now[0] = 10.0
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call()  # the one probe
    with pytest.raises(CircuitOpenError):
        breaker.before_call()  # no second probe at the same time
    breaker.record_failure()  # the probe failed: open again
    assert breaker.state is BreakerState.OPEN
    now[0] = 20.0
    breaker.before_call()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def test_sse_splitter_keeps_bytes_and_handles_any_cut() -> None:
    stream = b'data: {"a":1}\n\nevent: ping\ndata: {}\r\n\r\ndata: [DONE]\n\n'
    for cut in range(1, len(stream)):
        splitter = SseSplitter()
        events = splitter.feed(stream[:cut]) + splitter.feed(stream[cut:])
        assert b"".join(events) == stream
        assert len(events) == 3
    assert event_fields(b"event: ping\ndata: {}\r\n\r\n") == ("ping", b"{}")


def test_usage_is_read_from_the_usage_chunk() -> None:
    usage = b'{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}'
    assert usage_of(usage) == ({"prompt_tokens": 3, "completion_tokens": 4}, True)
    assert usage_of(b'{"choices":[{"delta":{"content":"usage"}}]}') is None
