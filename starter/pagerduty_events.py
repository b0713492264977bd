"""PagerDuty V3 webhook payloads -> page updates for tickets.

`{"event": {"id", "event_type": "incident.acknowledged", "agent": {"summary"},
"data": {"incident_key": <our dedup key>, ...}}}`. Only incidents ticketflow
raised are used: their dedup key starts with the ticket's workflow id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationError

from models.chatwoot import instant
from models.signals import PageUpdate
from starter.chatwoot_events import Ignored, WebhookError

_TICKET_KEY = re.compile(r"^((?:sim-[0-9a-f]+-)?ticket-\d+-\d+):.+")
_STATUS = {"incident.acknowledged": "acknowledged", "incident.resolved": "resolved"}


@dataclass(frozen=True)
class PageRoute:
    workflow_id: str
    update: PageUpdate


def route_pagerduty(payload: object) -> PageRoute | Ignored:
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), dict):
        raise WebhookError("event: missing (expected a PagerDuty V3 webhook)")
    event = payload["event"]
    kind = event.get("event_type")
    if not isinstance(kind, str):
        raise WebhookError("event.event_type: missing or not a string")
    if kind not in _STATUS:
        return Ignored(f"{kind} is not used by ticketflow")
    data = event.get("data")
    if not isinstance(data, dict):
        raise WebhookError("event.data: missing or not an object")
    key = data.get("incident_key")
    match = _TICKET_KEY.match(key) if isinstance(key, str) and len(key) <= 255 else None
    if match is None:
        return Ignored("incident was not raised by ticketflow")
    agent = event.get("agent") if isinstance(event.get("agent"), dict) else {}
    try:
        update = PageUpdate(
            dedup_key=key,
            status=_STATUS[kind],
            by=agent.get("summary"),
            event_id=f"pd:{str(event.get('id'))[:128]}",
            source="pagerduty",
            occurred_at=instant(event.get("occurred_at")),
        )
    except ValidationError as err:
        first = err.errors()[0]
        raise WebhookError(
            f"event.agent.{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
        ) from None
    return PageRoute(match.group(1), update)
