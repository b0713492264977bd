"""Parse a webhook body without ever raising anything but `MalformedBody`.

`json.loads` turns hostile bodies into exceptions no handler expects:
`RecursionError` for `[` nested 5,000 deep, `ValueError` for an integer of
5,000 digits (CPython's int-conversion limit), and it accepts `NaN`,
`Infinity` and lone UTF-16 surrogates, which then fail later (in datetime
arithmetic, or when Temporal encodes the payload as UTF-8). pydantic-core's
JSON parser (jiter) bounds nesting, rejects `NaN`/`Infinity`, invalid UTF-8
and lone surrogates, and reports every problem as one `ValueError` with a
position, so the bridge answers 400 with that message. Numbers that parse
but are out of range (1e400 -> inf, ids beyond int4) are the models' job
(`models.chatwoot` bounds), which answer 422.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic_core import from_json


class MalformedBody(ValueError):
    """The body is not JSON ticketflow can read; the message says where."""


def parse_json(body: bytes) -> object:
    try:
        return from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        raise MalformedBody(f"malformed JSON: {exc}") from None


def instant(value: Any) -> datetime | None:
    """An instant from Unix seconds or an ISO 8601 string (UTC when it names no
    zone); None when it is neither, or not a plausible instant."""
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            at = datetime.fromtimestamp(value, tz=UTC)
        elif isinstance(value, str) and len(value) <= 64:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return (
        at if datetime(2000, 1, 1, tzinfo=UTC) <= at <= datetime(2200, 1, 1, tzinfo=UTC) else None
    )
