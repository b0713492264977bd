"""Typed handoff payloads, built from the pack's field specs.

The SOP's HANDOFF blocks become pydantic models at run time (one per
handoff spec), so a pack can define a new handoff without code and a bad
payload is refused with the field and the allowed values. `payload_text`
writes a validated payload for people (briefs, pages, templates).
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from models.policy import HandoffSpec, PayloadField

_TYPES: dict[str, Any] = {
    "int": int,
    "uuid": uuid.UUID,
    "bool": bool,
    "text": str,
    "str": str,
    "number": float,
}


def _field(spec: PayloadField) -> tuple[Any, Any]:
    if spec.const is not None:
        typ: Any = Literal[spec.const]
    elif spec.type == "enum":
        typ = Literal[tuple(spec.values or ())]
    else:
        typ = _TYPES[spec.type]
    if spec.type in ("text", "str") and spec.required:
        return typ, Field(min_length=1)
    if spec.required:
        return typ, ...
    return typ | None, None


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


@lru_cache(maxsize=64)
def _model(name: str, spec_json: str) -> type[BaseModel]:
    spec = HandoffSpec.model_validate_json(spec_json)
    # Typed as values of any kind: mypy checks a `**` dict against every keyword
    # of `create_model` (`__doc__`, `__config__` ...), not only the field ones.
    fields: dict[str, Any] = {k: _field(v) for k, v in spec.payload.items()}
    return create_model(f"{name}_payload", __base__=_Payload, **fields)


def payload_model(name: str, spec: HandoffSpec) -> type[BaseModel]:
    return _model(name, spec.model_dump_json(by_alias=True))


class PayloadError(ValueError):
    pass


def validate_payload(
    name: str, spec: HandoffSpec, given: dict[str, Any], context: dict[str, Any]
) -> dict[str, Any]:
    """Fill fields from the ticket (`source:`) where not given, then validate.
    Returns the JSON-ready payload; raises PayloadError naming the field."""
    data = dict(given)
    for field_name, field_spec in spec.payload.items():
        if field_name not in data:
            if field_spec.source is not None and context.get(field_spec.source) is not None:
                data[field_name] = context[field_spec.source]
            elif field_spec.const is not None:
                data[field_name] = field_spec.const
    try:
        return payload_model(name, spec).model_validate(data).model_dump(mode="json")
    except ValidationError as err:
        msgs = []
        for e in err.errors():
            where = ".".join(str(p) for p in e["loc"]) or "payload"
            msgs.append(f"payload.{where}: {e['msg']}")
        raise PayloadError("; ".join(msgs)) from None


def payload_text(payload: dict[str, Any]) -> str:
    """A handoff payload for people: one `Field: value` line each."""
    lines = []
    for key, value in payload.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    return "\n".join(lines)
