"""The pack JSON Schema (`policies/pack.schema.json`), generated from the models.

Editors that speak the YAML language server (VS Code's YAML extension and
others) read it from each pack's first line,
`# yaml-language-server: $schema=./pack.schema.json`, to complete keys and
underline mistakes as the user types. It is `Policy.model_json_schema`,
adjusted so it accepts what the loader accepts rather than what pydantic's
types say: durations as `30m` / `1h30m` / seconds, times as "HH:MM" (and
"24:00"), windows as "09:00-17:00", weekday keys and ranges (`mon-fri`),
level numbers as keys. Draft-07, the draft those editors support in full.
tests/test_pack_schema.py fails when the committed file and the models
disagree; `ticketflow pack schema` rewrites it.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from models.durations import format_duration
from models.policy import _NAME, WEEKDAYS, Policy

SCHEMA_FILE = "pack.schema.json"
MODELINE = f"# yaml-language-server: $schema=./{SCHEMA_FILE}"
DRAFT = "http://json-schema.org/draft-07/schema#"

# models.durations.parse_duration: `30m`, `1h30m`, `+20m`, `2.5h`, spaces allowed.
DURATION = r"^\s*\+?\s*(\d+(\.\d+)?\s*[dhmsDHMS]\s*)+$"
_TIME = r"(([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?|24:00)"
TIME = rf"^{_TIME}$"
WINDOW = rf"^\s*{_TIME}\s*-\s*{_TIME}\s*$"


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


_DAY = "(" + "|".join(_any_case(d) for d in WEEKDAYS) + ")"
WEEKDAY_KEY = rf"^{_DAY}(-{_DAY})?$"


class _PackSchema(GenerateJsonSchema):
    def timedelta_schema(self, schema) -> dict[str, Any]:
        return {
            "anyOf": [{"type": "string", "pattern": DURATION}, {"type": "number"}],
            "description": "A duration: `30m`, `4h`, `1h30m`, `2d` (or seconds).",
        }

    def time_schema(self, schema) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": TIME,
            "description": 'A local time, quoted: "14:30" ("24:00": midnight).',
        }

    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, timedelta):
            return format_duration(dft)
        return super().encode_default(dft)


def generate() -> dict[str, Any]:
    """The schema, as committed."""
    schema = Policy.model_json_schema(
        by_alias=True, ref_template="#/definitions/{model}", schema_generator=_PackSchema
    )
    definitions = schema.pop("$defs")
    window = definitions["TimeRange"]
    definitions["TimeRange"] = {
        "description": window.pop("description"),
        "anyOf": [
            {
                "type": "string",
                "pattern": WINDOW,
                "description": 'A window, quoted: "09:00-17:00".',
            },
            window,
        ],
    }
    for model in ("CalendarSpec", "CalendarVariant"):
        definitions[model]["properties"]["weekly"]["propertyNames"] = {"pattern": WEEKDAY_KEY}
    props = schema["properties"]
    props["name"]["pattern"] = _NAME.pattern
    props["levels"]["propertyNames"] = {"pattern": r"^-?\d+$"}
    schema["title"] = "ticketflow policy pack"
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_FILE,
        **schema,
        "definitions": dict(sorted(definitions.items())),
    }


def render() -> str:
    return json.dumps(generate(), indent=2, ensure_ascii=False) + "\n"


def write(path: Path) -> bool:
    """Write the schema; True when the file changed."""
    text = render()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def as_json(value: Any) -> Any:
    """Loaded pack data as an editor sees it (dates are strings in YAML 1.2),
    for validating a pack against the schema."""
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, (date, datetime, time)):
        return value.isoformat()
    return value
