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

from pydantic_core import from_json


class MalformedBody(ValueError):
    """The body is not JSON ticketflow can read; the message says where."""


def parse_json(body: bytes) -> object:
    try:
        return from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        raise MalformedBody(f"malformed JSON: {exc}") from None
