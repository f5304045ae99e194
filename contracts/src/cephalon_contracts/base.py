"""Model bases: wire models are strict, closed and immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    """A message on the wire: strict types, unknown fields rejected, immutable.

    Decode with ``model_validate_json``: in JSON mode strict pydantic still accepts
    ISO-8601 strings for datetimes and values for enums, and nothing else.
    """

    model_config = ConfigDict(
        strict=True, extra="forbid", frozen=True, use_enum_values=False, ser_json_timedelta="float"
    )
