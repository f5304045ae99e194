"""URNs for everything a provider gives us an id for.

``urn:cephalon:<provider>:<tenant>:<kind>:<id>``. ``provider``, ``tenant`` and ``kind``
are segments; ``id`` is any non-empty text, percent-encoded (upper-case hex, UTF-8)
outside RFC 8141's unreserved characters, so ``from_urn(to_urn(...))`` returns exactly
what went in and :func:`from_urn` accepts only the canonical spelling, which makes
``to_urn(*from_urn(u)) == u`` hold as well.
"""

from __future__ import annotations

from typing import Annotated, NamedTuple
from urllib.parse import quote, unquote

from pydantic import AfterValidator

from .errors import InvalidUrnError
from .names import PROVIDER_RE, SEGMENT_RE

URN_PREFIX = "urn:cephalon:"
# RFC 3986 unreserved plus the sub-delims and ':' '@' that RFC 8141 allows in an NSS,
# minus '%' (the escape) and ',' '=' '&' '+' ';' which people confuse with separators.
_SAFE_ID_CHARS = "-._~!$'()*:@"


class UrnParts(NamedTuple):
    provider: str
    tenant: str
    kind: str
    id: str


def to_urn(provider: str, tenant: str, kind: str, id: str) -> str:  # noqa: A002 - wire name
    """Build the canonical URN; raises :class:`InvalidUrnError` on a bad part."""
    for field, value, rule in (
        ("provider", provider, PROVIDER_RE),
        ("tenant", tenant, PROVIDER_RE),
        ("kind", kind, SEGMENT_RE),
    ):
        if not isinstance(value, str) or not rule.fullmatch(value):
            raise InvalidUrnError(
                f"URN {field} {value!r} must be a lower-case name", details={"field": field}
            )
    if not isinstance(id, str) or not id:
        raise InvalidUrnError("URN id must be a non-empty string", details={"field": "id"})
    return f"{URN_PREFIX}{provider}:{tenant}:{kind}:{quote(id, safe=_SAFE_ID_CHARS)}"


def from_urn(urn: str) -> UrnParts:
    """Split a canonical URN into its parts (the id decoded)."""
    if not isinstance(urn, str) or not urn.startswith(URN_PREFIX):
        raise InvalidUrnError(f"{urn!r} is not a cephalon URN (urn:cephalon:...)")
    pieces = urn[len(URN_PREFIX) :].split(":", 3)
    if len(pieces) != 4:
        raise InvalidUrnError(
            f"{urn!r} must have the form urn:cephalon:<provider>:<tenant>:<kind>:<id>"
        )
    provider, tenant, kind, encoded = pieces
    try:
        decoded = unquote(encoded, errors="strict")
    except UnicodeDecodeError as e:
        raise InvalidUrnError(f"{urn!r} has an id that is not percent-encoded UTF-8") from e
    canonical = to_urn(provider, tenant, kind, decoded) if decoded else ""
    if canonical != urn:
        raise InvalidUrnError(
            f"{urn!r} is not in canonical form (expected {canonical!r})"
            if canonical
            else f"{urn!r} has an empty id",
            details={"field": "id"},
        )
    return UrnParts(provider, tenant, kind, decoded)


def _validate_urn(value: str) -> str:
    from_urn(value)
    return value


#: A canonical URN string, for use as a pydantic field type.
Urn = Annotated[str, AfterValidator(_validate_urn)]
