"""``python -m cephalon_contracts.smoke``: show and self-check the wire formats.

Round-trips every example message through its JSON form, builds and parses a topic
and a URN, and shows how a bad message is refused. Exit status 0 means every check held.
"""

from __future__ import annotations

import logging
import sys

from .envelope import decode_envelope, encode_envelope
from .errors import ContractError
from .examples import PROVIDER, SESSION_ID, TENANT, envelope_examples
from .topics import parse_topic, session_topic
from .urns import from_urn, to_urn

log = logging.getLogger("cephalon.smoke")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    failures = 0
    for kind, message in envelope_examples().items():
        wire = encode_envelope(message)
        ok = decode_envelope(wire) == message
        failures += not ok
        log.info("%-24s %5d bytes  round-trip %s", kind, len(wire), "ok" if ok else "FAILED")
    key = session_topic(provider=PROVIDER, tenant=TENANT, session_id=SESSION_ID, stream="turns")
    log.info("topic  %s -> %r", key, parse_topic(key))
    urn = to_urn(PROVIDER, TENANT, "user", "1300000000000000001")
    log.info("urn    %s -> %s", urn, tuple(from_urn(urn)))
    try:
        decode_envelope(b'{"type": "session.turn", "payload": {}}')
    except ContractError as e:
        log.info("bad input is refused: %s %s", e.error_code.value, e.message[:120])
    else:
        failures += 1
        log.info("a malformed envelope was accepted")
    log.info(
        "contracts smoke: %s. Local mode (the end-to-end demo) comes with the local-mode issue.",
        "all checks held" if not failures else f"{failures} check(s) FAILED",
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
