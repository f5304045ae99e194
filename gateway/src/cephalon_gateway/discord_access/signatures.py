"""Ed25519 verification of Discord interactions (done before anything else)."""

from __future__ import annotations

import time

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from .errors import ConfigError, SignatureError

#: Interactions signed longer ago than this are replays.
MAX_SKEW_SECONDS = 300


class SignatureVerifier:
    """Checks ``X-Signature-Ed25519`` over ``timestamp + raw body``."""

    def __init__(self, public_key_hex: str, *, max_skew: float = MAX_SKEW_SECONDS) -> None:
        try:
            self._key = VerifyKey(bytes.fromhex(public_key_hex))
        except (ValueError, TypeError) as e:
            raise ConfigError("the Discord public key is not 32 bytes of hex") from e
        self._max_skew = max_skew

    def verify(
        self, signature: str | None, timestamp: str | None, body: bytes, *, now: float | None = None
    ) -> None:
        """Raise :class:`SignatureError` unless the signature is valid and fresh."""
        if not signature or not timestamp:
            raise SignatureError("missing signature headers")
        try:
            raw_signature = bytes.fromhex(signature)
            self._key.verify(timestamp.encode() + body, raw_signature)
        except (ValueError, BadSignatureError) as e:
            raise SignatureError("invalid request signature") from e
        try:
            signed_at = float(timestamp)
        except ValueError as e:
            raise SignatureError("invalid signature timestamp") from e
        current = time.time() if now is None else now
        if abs(current - signed_at) > self._max_skew:
            raise SignatureError("stale signature timestamp")
