"""Slack Web API calls checked against Slack's published OpenAPI spec.

`slack_web_api.json` is the part of slackapi/slack-api-specs
(`web-api/slack_web_openapi_v2_without_examples.json`) that ticketflow
calls: each method's HTTP verb, the content types it consumes, and its
parameters with their place, type and whether they are required. A call
breaks the contract when it uses another verb or content type, leaves out
a required parameter, sends one the spec does not name, or sends a value
of the wrong type. The spec lists the token as a `token` parameter; Slack
takes it as `Authorization: Bearer` too (what ticketflow sends), so either
satisfies it. The stand-in (sandbox/slack.py) checks every call it gets.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SPEC = Path(__file__).with_name("slack_web_api.json")


@cache
def methods() -> dict[str, dict[str, Any]]:
    return dict(json.loads(SPEC.read_text(encoding="utf-8"))["methods"])


def _type_ok(kind: str | None, value: Any, form: bool) -> bool:
    if form:  # a form or query value is text: check it reads as its type
        text = str(value)
        if kind == "boolean":
            return text.lower() in ("true", "false", "1", "0")
        if kind == "integer":
            return text.lstrip("-").isdigit()
        if kind == "number":
            try:
                float(text)
            except ValueError:
                return False
        return True
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    # `string` parameters that carry JSON (blocks, attachments) may be sent as JSON
    # values in a JSON body; anything else must be a string.
    return isinstance(value, (str, list, dict))


def violations(
    method: str, http: str, content_type: str, params: dict[str, Any], bearer: bool
) -> list[str]:
    """What is wrong with one call, by the spec (empty: nothing)."""
    spec = methods().get(method)
    if spec is None:
        return [f"{method}: not a method of the spec (or not one ticketflow may call)"]
    out = []
    if http != spec["http"]:
        out.append(f"{method}: {http}, the spec says {spec['http']}")
    if http == "POST":
        ctype = content_type.split(";")[0].strip()
        if ctype not in spec["consumes"]:
            out.append(f"{method}: content type {ctype!r} not in {spec['consumes']}")
    declared = spec["params"]
    for name, value in params.items():
        if name not in declared:
            out.append(f"{method}: parameter {name!r} is not in the spec")
        elif not _type_ok(
            declared[name]["type"],
            value,
            form=http == "GET" or "json" not in ctype_of(content_type),
        ):
            out.append(f"{method}: {name}={value!r} is not a {declared[name]['type']}")
    for name, p in declared.items():
        if p["required"] and name not in params and not (name == "token" and bearer):
            out.append(f"{method}: required parameter {name!r} missing")
    return out


def ctype_of(content_type: str) -> str:
    return content_type.split(";")[0].strip()
