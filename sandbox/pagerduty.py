"""A PagerDuty Events API v2 stand-in: `POST /v2/enqueue`.

Validates like the real endpoint: 400 `{"status": "invalid event", ...}`
for a bad routing key, action, severity, a missing summary or source, a
summary over 1024 characters or a dedup key over 255; 202 `{"status":
"success", "message": "Event processed", "dedup_key": ...}` otherwise.
Keeps alerts by dedup key: a trigger opens (or re-triggers) one,
acknowledge and resolve move it; a trigger for an open alert is deduplicated.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox.recorder import Recorder, mount_control

SEVERITIES = {"critical", "error", "warning", "info"}
ACTIONS = {"trigger", "acknowledge", "resolve"}


def validate_event(event: Any, routing_keys: set[str] | None) -> list[str]:
    if not isinstance(event, dict):
        return ["Event object is invalid"]
    errors = []
    key = event.get("routing_key")
    if not isinstance(key, str) or not key:
        errors.append("'routing_key' is missing or blank")
    elif routing_keys is not None and key not in routing_keys:
        errors.append("Invalid routing key")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("'dedup_key' is required for acknowledge and resolve")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            errors.append("'payload' is missing")
        else:
            summary = payload.get("summary")
            if not isinstance(summary, str) or not summary:
                errors.append("'payload.summary' is missing or blank")
            elif len(summary) > 1024:
                errors.append("'payload.summary' must be at most 1024 characters")
            if not isinstance(payload.get("source"), str) or not payload.get("source"):
                errors.append("'payload.source' is missing or blank")
            if payload.get("severity") not in SEVERITIES:
                errors.append(
                    "'payload.severity' is invalid (must be one of critical, error, warning, info)"
                )
    return errors


def create_pagerduty_app(routing_keys: set[str] | None = None) -> FastAPI:
    """`routing_keys=None` accepts any non-blank key (dev); a set enforces them."""
    app = FastAPI(title="PagerDuty Events API sandbox", docs_url=None, redoc_url=None)
    recorder = Recorder()
    alerts: dict[str, dict[str, Any]] = {}
    app.state.recorder = recorder
    app.state.alerts = alerts
    mount_control(app, recorder)

    @app.get("/_sandbox/alerts")
    async def list_alerts() -> dict[str, dict[str, Any]]:
        return alerts

    @app.post("/v2/enqueue")
    async def enqueue(request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            event = json.loads(raw)
        except ValueError:
            recorder.record(request, raw.decode(errors="replace"), 400)
            return JSONResponse(
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": ["Malformed JSON"],
                },
                status_code=400,
            )
        failure = await recorder.maybe_fail(request, event)
        if failure is not None:
            return failure
        errors = validate_event(event, routing_keys)
        if errors:
            body = {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": errors,
            }
            recorder.record(request, event, 400, body)
            return JSONResponse(body, status_code=400)
        action = event["event_action"]
        dedup = event.get("dedup_key") or uuid.uuid4().hex
        alert = alerts.get(dedup)
        if action == "trigger":
            if alert is None or alert["status"] == "resolved":
                alerts[dedup] = {
                    "status": "triggered",
                    "summary": event["payload"]["summary"],
                    "routing_key_suffix": event["routing_key"][-4:],
                    "triggers": 1,
                    "custom_details": event["payload"].get("custom_details"),
                    "links": event.get("links", []),
                }
            else:
                alert["triggers"] += 1  # deduplicated into the open alert
        elif alert is not None and alert["status"] != "resolved":
            alert["status"] = "acknowledged" if action == "acknowledge" else "resolved"
        body = {"status": "success", "message": "Event processed", "dedup_key": dedup}
        recorder.record(request, event, 202, body)
        return JSONResponse(body, status_code=202)

    return app
