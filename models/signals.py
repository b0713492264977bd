"""Typed inputs of the ticket workflow's signals and updates.

Webhook events become signals (they must never be refused by Temporal, so a
signal the ticket cannot accept is recorded as rejected in `status`).
Operator actions that can be refused are updates with validators.

`event_id` makes handlers idempotent: Chatwoot redelivers, and every write
ticketflow makes comes back as a webhook, so the same event may arrive
twice. A ticket ignores an event id it has already seen.

`occurred_at` is when it happened, as the sender knows it: Chatwoot's
`created_at` for a message, PagerDuty's `occurred_at`, otherwise the instant
the bridge, console or CLI accepted it. A ticket applies deadlines and
events in that order (clamped between the last instant it applied and its
now), so a reply that came before a deadline stops the clock even when the
ticket sees both in one wake. Events without it count from their arrival.

`kind` names the event (a literal per class, defaulted: senders never set
it): the discriminator of `models.events.TicketEvent`, the one union of what
a ticket receives.

`source` says who sent it (the bridge, the CLI, the console, a handoff): the
ticket records it with every input it applies (`ticket_inputs`). Histories
and senders older than the field have none.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

# Who sent a signal or update: recorded with it in `ticket_inputs`.
Source = Literal["webhook", "cli", "console", "pagerduty", "handoff", "timer", "system", "slack"]

# What PagerDuty can say about a page ticketflow raised.
PageUpdateStatus = Literal["acknowledged", "resolved"]


class Event(BaseModel):
    event_id: str | None = None
    occurred_at: datetime | None = None
    source: Source | None = None

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        """An instant without a zone is taken as UTC (Chatwoot and PagerDuty send UTC)."""
        return v.replace(tzinfo=UTC) if v is not None and v.tzinfo is None else v


class Acknowledged(Event):
    kind: Literal["acknowledged"] = "acknowledged"
    by: str = Field(min_length=1)


class AgentReplied(Event):
    kind: Literal["agent_replied"] = "agent_replied"
    by: str = Field(min_length=1)
    substantive: bool = True


class CustomerReplied(Event):
    kind: Literal["customer_replied"] = "customer_replied"


class Resolved(Event):
    kind: Literal["resolved"] = "resolved"
    by: str = Field(min_length=1)
    resolution: str = ""


class Reopened(Event):
    kind: Literal["reopened"] = "reopened"
    by: str | None = None


class Escalate(Event):
    kind: Literal["escalate"] = "escalate"
    by: str = Field(min_length=1)
    target: str | None = None  # default: the pack's escalation table for this reason
    reason: str = Field(min_length=1)
    payload: dict[str, object] = Field(default_factory=dict)


class Reassign(Event):
    kind: Literal["reassign"] = "reassign"
    to: str = Field(min_length=1)
    by: str | None = None


class Classify(Event):
    """An ask type set by an operator, or Chatwoot labels / custom attributes
    that changed (the ticket maps them to an ask type through its policy)."""

    kind: Literal["classify"] = "classify"
    ask_type: str | None = None
    labels: list[str] | None = None
    custom_attributes: dict[str, object] | None = None
    by: str | None = None


class VipFlagChanged(Event):
    kind: Literal["vip_flag_changed"] = "vip_flag_changed"
    vip: bool
    by: str = Field(min_length=1)
    why: str = ""


class StatusChanged(Event):
    """Chatwoot status moved to pending or snoozed (open/resolved map to
    `reopened`/`resolved`)."""

    kind: Literal["status_changed"] = "status_changed"
    status: Literal["open", "pending", "snoozed", "resolved"]
    by: str | None = None


class PageUpdate(Event):
    """A PagerDuty incident ticketflow raised was acknowledged or resolved in
    PagerDuty (V3 webhook): the ladder that raised it stops."""

    kind: Literal["page_update"] = "page_update"
    dedup_key: str = Field(min_length=1, max_length=255)
    status: PageUpdateStatus
    by: str | None = None  # PagerDuty's name of the responder, informational


class WentLive(Event):
    """A ticket in shadow mode goes live (models/shadow.py): from its instant
    on, what it decides is sent. `why`: what the worker's settings say now;
    `seen_at`: when the ticket learned it (the event is applied at the last
    instant the ticket had applied, before anything else of that decision)."""

    kind: Literal["went_live"] = "went_live"
    why: str = Field(default="", max_length=300)
    seen_at: datetime | None = None
