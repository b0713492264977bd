"""What a ticket's engine receives from outside, by inbox name.

The ticket workflow queues each signal and update under an inbox name
(`acknowledged`, `agent_replied`, `handoff_result` ...) with its typed
payload; `receive` hands one to the `TicketEngine` method it stands for.
The workflow, `simulate` and the `whatif` replay all go through here, so a
recorded input is applied exactly as the live ticket applied it, and
`INBOX` is the one table of names and payload types (a recorded input's
payload is validated against it).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from engine.context import Rejected
from engine.core import TicketEngine
from models.actions import Action
from models.handoff import HandoffResponse, HandoffResult
from models.signals import (
    Acknowledged,
    AgentReplied,
    Classify,
    CustomerReplied,
    Escalate,
    PageUpdate,
    Reassign,
    Reopened,
    Resolved,
    StatusChanged,
    VipFlagChanged,
)

INBOX: dict[str, type[BaseModel]] = {
    "acknowledged": Acknowledged,
    "agent_replied": AgentReplied,
    "customer_replied": CustomerReplied,
    "resolved": Resolved,
    "reopened": Reopened,
    "escalate": Escalate,
    "reassign": Reassign,
    "classify": Classify,
    "vip_flag_changed": VipFlagChanged,
    "status_changed": StatusChanged,
    "handoff_response": HandoffResponse,
    "page_update": PageUpdate,
    "handoff_result": HandoffResult,
}


def receive(e: TicketEngine, name: str, a: BaseModel, now: datetime) -> list[Action]:
    """Apply one inbox item at `now`; `Rejected` when the ticket refuses it."""
    expected = INBOX.get(name)
    if expected is None or not isinstance(a, expected):
        raise Rejected(f"unknown event {name!r}")  # a type in INBOX with no branch here
    if isinstance(a, Acknowledged):
        return e.acknowledged(a.by, now, a.event_id)
    if isinstance(a, AgentReplied):
        return e.agent_replied(a.by, a.substantive, now, a.event_id)
    if isinstance(a, CustomerReplied):
        return e.customer_replied(now, a.event_id)
    if isinstance(a, Resolved):
        return e.resolve(a.by, a.resolution, now, a.event_id)
    if isinstance(a, Reopened):
        return e.reopen(a.by, now, a.event_id)
    if isinstance(a, Escalate):
        return e.escalate(a.by, a.target, a.reason, a.payload, now, a.event_id)
    if isinstance(a, Reassign):
        return e.reassign(a.to, a.by, now, a.event_id)
    if isinstance(a, Classify):
        return e.classify(a.ask_type, a.labels, a.custom_attributes, now, a.event_id)
    if isinstance(a, VipFlagChanged):
        return e.vip_changed(a.vip, a.by, a.why, now, a.event_id)
    if isinstance(a, StatusChanged):
        return e.status_changed(a.status, now, a.event_id)
    if isinstance(a, HandoffResponse):
        return e.handoff_response(
            a.by, a.decision, a.founder_action, a.ok, a.handoff, now, a.event_id
        )
    if isinstance(a, PageUpdate):
        return e.page_update(a.dedup_key, a.status, a.by, now, a.event_id)
    if isinstance(a, HandoffResult):
        return e.handoff_result(
            a.handoff_id,
            a.outcome,
            a.by,
            a.decision,
            a.founder_action,
            a.new_owner,
            a.ladder,
            now,
        )
    raise Rejected(f"unknown event {name!r}")  # a type in INBOX with no branch here
