"""Topic and stream-key names: ``<root>.p.<provider>.t.<tenant>.<area>.<name>``.

``root`` may itself be dotted (``acme.prod``) and ``name`` may be a dotted path
(``message.created``, ``<sid>.turns``); every segment follows
:data:`~cephalon_contracts.names.SEGMENT_PATTERN`, and no segment of the root may be
``p`` or ``t`` so that parsing is unambiguous and exact.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidTopicError
from .names import PROVIDER_RE, SEGMENT_RE

DEFAULT_ROOT = "promethean"
_RESERVED_ROOT_SEGMENTS = frozenset({"p", "t"})


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic; ``str(topic)`` gives the wire form back."""

    provider: str
    tenant: str
    area: str
    name: str
    root: str = DEFAULT_ROOT

    def __post_init__(self) -> None:
        _check_dotted("root", self.root)
        if reserved := _RESERVED_ROOT_SEGMENTS.intersection(self.root.split(".")):
            raise InvalidTopicError(
                f"topic root {self.root!r} may not contain the segment {sorted(reserved)[0]!r}",
                details={"field": "root"},
            )
        for field, value in (("provider", self.provider), ("tenant", self.tenant)):
            if not isinstance(value, str) or not PROVIDER_RE.fullmatch(value):
                raise InvalidTopicError(
                    f"topic {field} {value!r} must be lower-case letters, digits and '-',"
                    " starting with a letter, at most 30 characters",
                    details={"field": field},
                )
        _check_segment("area", self.area)
        _check_dotted("name", self.name)

    def __str__(self) -> str:
        return f"{self.root}.p.{self.provider}.t.{self.tenant}.{self.area}.{self.name}"


def topic(*, provider: str, tenant: str, area: str, name: str, root: str = DEFAULT_ROOT) -> str:
    """Build a topic string; raises :class:`InvalidTopicError` on a bad segment."""
    return str(Topic(provider=provider, tenant=tenant, area=area, name=name, root=root))


def session_topic(
    *, provider: str, tenant: str, session_id: str, stream: str, root: str = DEFAULT_ROOT
) -> str:
    """The key of one of a session's streams (``turns``, ``events``, ``control``)."""
    return topic(
        provider=provider, tenant=tenant, area="session", name=f"{session_id}.{stream}", root=root
    )


def parse_topic(value: str) -> Topic:
    """Parse a topic string into its parts; ``str(parse_topic(s)) == s`` for valid ``s``."""
    if not isinstance(value, str):
        raise InvalidTopicError(f"a topic must be a string, not {type(value).__name__}")
    parts = value.split(".")
    for i in range(1, len(parts) - 4):
        if parts[i] == "p" and parts[i + 2] == "t":
            return Topic(
                root=".".join(parts[:i]),
                provider=parts[i + 1],
                tenant=parts[i + 3],
                area=parts[i + 4],
                name=".".join(parts[i + 5 :]),
            )
    raise InvalidTopicError(
        f"{value!r} is not a topic of the form <root>.p.<provider>.t.<tenant>.<area>.<name>",
        details={"field": "topic"},
    )


def _check_segment(field: str, value: object) -> None:
    if not isinstance(value, str) or not SEGMENT_RE.fullmatch(value):
        raise InvalidTopicError(
            f"topic {field} {value!r} must be one lower-case segment: letters, digits,"
            " '-' or '_' inside, no dots",
            details={"field": field},
        )


def _check_dotted(field: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidTopicError(
            f"topic {field} must be a non-empty string", details={"field": field}
        )
    for segment in value.split("."):
        if not SEGMENT_RE.fullmatch(segment):
            raise InvalidTopicError(
                f"topic {field} {value!r} has an invalid segment {segment!r}: use lower-case"
                " letters, digits, '-' or '_' inside",
                details={"field": field},
            )
