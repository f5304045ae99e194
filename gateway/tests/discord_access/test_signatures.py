from __future__ import annotations

import time

import pytest
from nacl.signing import SigningKey

from cephalon_gateway.discord_access.errors import ConfigError, SignatureError
from cephalon_gateway.discord_access.signatures import SignatureVerifier

KEY = SigningKey.generate()
VERIFIER = SignatureVerifier(KEY.verify_key.encode().hex())


def sign(body: bytes, timestamp: str, key: SigningKey = KEY) -> str:
    return key.sign(timestamp.encode() + body).signature.hex()


def test_valid_signature_passes() -> None:
    ts = str(int(time.time()))
    VERIFIER.verify(sign(b'{"type":1}', ts), ts, b'{"type":1}')


@pytest.mark.parametrize(
    ("signature", "timestamp", "body"),
    [
        (None, "1", b"{}"),
        ("zz", "1", b"{}"),
        ("00" * 64, "1", b"{}"),
    ],
)
def test_missing_or_malformed_signatures_fail(
    signature: str | None, timestamp: str, body: bytes
) -> None:
    with pytest.raises(SignatureError):
        VERIFIER.verify(signature, timestamp, body)


def test_tampered_body_fails() -> None:
    ts = str(int(time.time()))
    with pytest.raises(SignatureError):
        VERIFIER.verify(sign(b'{"type":1}', ts), ts, b'{"type":2}')


def test_other_key_fails() -> None:
    ts = str(int(time.time()))
    with pytest.raises(SignatureError):
        VERIFIER.verify(sign(b"{}", ts, SigningKey.generate()), ts, b"{}")


def test_replayed_old_signature_fails() -> None:
    ts = str(int(time.time()) - 3600)
    with pytest.raises(SignatureError, match="stale"):
        VERIFIER.verify(sign(b"{}", ts), ts, b"{}")


def test_bad_public_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        SignatureVerifier("not-hex")
