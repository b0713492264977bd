"""The ticket's state, owned by the decision core and carried across
continue-as-new. Every instant is UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from models.compact import CompactModel
from models.policy import Step
from models.ticket import Ticket

# A clock's status. `waiting`: armed by its start event, but its condition
# does not hold (yet).
ClockStatus = Literal["running", "waiting", "breached", "stopped", "cancelled"]


class ClockState(CompactModel):
    name: str
    title: str
    status: ClockStatus
    started_at: datetime  # what the deadline counts from
    deadline: datetime
    business_calendar: str | None = None
    cycle: int = 0
    breached_at: datetime | None = None
    stopped_at: datetime | None = None
    anchor_owner: str | None = None  # owner when it breached: `backup` is relative to this
    armed_at: datetime | None = None  # the start event
    activated_at: datetime | None = None  # when it last began to run (a breach is never earlier)


class PendingStep(CompactModel):
    id: str
    source: str  # clock:<name>, rule:<n>, handoff:<id>
    due: datetime
    step: Step
    anchor_owner: str | None = None
    context: dict[str, Any] = Field(default_factory=dict)


class PageState(CompactModel):
    dedup_key: str
    target: str
    source: str
    status: Literal["triggered", "acknowledged", "resolved"] = "triggered"
    at: datetime
    withheld: bool = False  # decided in shadow mode: never sent to PagerDuty


class HandoffState(CompactModel):
    id: str  # the child workflow id
    name: str
    title: str
    target: str
    reason: str | None = None
    status: Literal["open", "acknowledged", "decided", "failed", "cancelled"] = "open"
    started_at: datetime
    deadline: datetime
    by: str | None = None
    decision: str | None = None
    founder_action: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class SlackPostState(CompactModel):
    """A Slack post the ticket keeps current (engine/channels.py), by its action key."""

    to: str  # the channel or user id it was posted to
    target: str  # the party of the pack
    at: datetime  # when it was decided
    message: dict[str, Any]  # the ChannelMessage as last sent


class LadderEntry(CompactModel):
    at: datetime
    source: str
    action: str
    target: str | None = None
    summary: str


class RejectedSignal(CompactModel):
    signal: str
    reason: str
    at: datetime


class TicketState(CompactModel):
    ticket: Ticket
    workflow_id: str
    key_base: str | None = None  # prefix of action keys and handoff ids; the workflow id when unset
    stage: str = "open"
    owner: str | None = None
    previous_owner: str | None = None
    facts: dict[str, Any] = Field(default_factory=dict)
    clocks: dict[str, ClockState] = Field(default_factory=dict)
    pending: list[PendingStep] = Field(default_factory=list)
    pages: dict[str, PageState] = Field(default_factory=dict)
    handoffs: dict[str, HandoffState] = Field(default_factory=dict)
    slack_posts: dict[str, SlackPostState] = Field(default_factory=dict)
    ladder: list[LadderEntry] = Field(default_factory=list)
    seen_events: list[str] = Field(default_factory=list)
    rejected: list[RejectedSignal] = Field(default_factory=list)
    seq: int = 0
    runs: int = 1  # workflow runs so far (continue-as-new)
    level: int = 0
    # `condition_met` rules already run (once each)
    fired_rules: list[int] = Field(default_factory=list)
    opened_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    resolution: str | None = None
    # Shadow mode (models/shadow.py): why nothing it decides is sent, or None
    # (live); `live_at`: when a ticket that started in shadow went live.
    shadow: str | None = None
    live_at: datetime | None = None
