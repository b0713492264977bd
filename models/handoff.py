"""Handoff workflow input, signals and the outcome it reports to its ticket."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from models.policy import Policy
from models.signals import Source
from models.state import LadderEntry
from models.ticket import Ticket


class HandoffInput(BaseModel):
    handoff_id: str  # also the workflow id
    ticket_workflow_id: str
    name: str  # the pack's handoff spec
    target: str
    reason: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    by: str
    owner: str | None = None  # ticket owner when the handoff started
    started_at: datetime
    deadline: datetime  # absolute: business-time timeouts are computed once, by the ticket
    policy: Policy  # the ticket's pinned policy
    ticket: Ticket
    facts: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)  # template context at start
    clock_offset_seconds: float = 0.0
    # Started by a ticket in shadow mode (models/shadow.py): why nothing it decides is sent.
    shadow: str | None = None


HANDOFF_RESULT_SIGNAL = "handoff_result"  # the ticket's signal a handoff reports to


class HandoffResponse(BaseModel):
    """The SOP's SUCCESS RESPONSE (`{acknowledged: true, ack_by}` or
    `{decision, founder_action}`) or FAILURE RESPONSE (`{ok: false}`)."""

    kind: Literal["handoff_response"] = "handoff_response"
    by: str = Field(min_length=1)
    ok: bool = True
    decision: str | None = None
    founder_action: str | None = None
    handoff: str | None = None  # the handoff's name or id, when a ticket has several open
    event_id: str | None = None
    source: Source | None = None  # who sent it (models/signals.py)


class HandoffResult(BaseModel):
    """What a handoff reports to its ticket."""

    kind: Literal["handoff_result"] = "handoff_result"
    handoff_id: str
    outcome: Literal["acknowledged", "decided", "failed"]
    by: str | None = None
    decision: str | None = None
    founder_action: str | None = None
    new_owner: str | None = None
    ladder: list[LadderEntry] = Field(default_factory=list)
    source: Source | None = None  # "handoff" (models/signals.py)


class HandoffStatus(BaseModel):
    handoff_id: str
    name: str
    target: str
    status: Literal["open", "acknowledged", "decided", "failed"]
    deadline: datetime
    pending_steps: int
    ladder: list[LadderEntry]
