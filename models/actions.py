"""What the decision core asks the workflows to do.

An `Action` is pure data: the workflow maps each kind to one activity call
(or, for markers like `sla.breached`, to an audit row). `key` is unique per
ticket and stable across replays and retries, so every side effect is
idempotent: it becomes the PagerDuty dedup key, the Chatwoot echo marker
and the audit row's unique key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from models.compact import CompactModel

ActionKind = Literal[
    "chatwoot.message",
    "chatwoot.note",
    "chatwoot.labels",
    "chatwoot.assign",
    "chatwoot.status",
    "chatwoot.attributes",
    "pagerduty.trigger",
    "pagerduty.acknowledge",
    "pagerduty.resolve",
    "audit.vip_concierge_action",
    "audit.support_escalations",
    "audit.founder_pull",
    "audit.vip_flag_change",
    "audit.decision_log",
    "handoff.start",
    "handoff.signal",
    "handoff.page",
    "query.recent_level",
    "slack.post",
    "slack.update",
    "email.send",
    # markers: no external call, one ticket_events row each
    "sla.breached",
    "handoff.started",
    "handoff.completed",
    "handoff.failed",
    "ticket.opened",
    "ticket.resolved",
    "ticket.reopened",
    "ticket.closed",
    "ticket.stage",
    "ticket.level",
    "message.suppressed",
    "page.updated",
    "ladder.missed",
    "shadow.withheld",
    "ticket.live",
]

MARKERS = {
    "sla.breached",
    "handoff.started",
    "handoff.completed",
    "handoff.failed",
    "ticket.opened",
    "ticket.resolved",
    "ticket.reopened",
    "ticket.closed",
    "ticket.stage",
    "ticket.level",
    "message.suppressed",
    "page.updated",
    "ladder.missed",
    # shadow mode (engine/shadow.py): what would have been sent, and going live
    "shadow.withheld",
    "ticket.live",
}


class Action(CompactModel):
    kind: ActionKind
    key: str  # unique per ticket, stable across replays and retries
    at: datetime  # the ticket's clock when the action was decided
    target: str | None = None  # a party id of the pack, when there is one
    summary: str  # what a person reads in the Temporal Web UI and timelines
    params: dict[str, Any] = Field(default_factory=dict)
