"""Inputs of the Postgres audit activities."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class TicketEventRow(BaseModel):
    """One line of a ticket's audit trail (`ticket_events`)."""

    idempotency_key: str = Field(min_length=1, max_length=300)
    workflow_id: str
    account_id: int
    conversation_id: int
    policy: str
    action: str
    target: str | None = None
    details: dict[str, object] = Field(default_factory=dict)
    at: datetime


class InsertResult(BaseModel):
    inserted: bool  # False when the row was already there (a retry)


class AuditRowInput(BaseModel):
    """A row for one of the SOP audit tables. `row` holds the pack's fields
    (rendered), `context` the event's (target, reason, handoff, by, ...)."""

    table: str
    idempotency_key: str = Field(min_length=1, max_length=300)
    workflow_id: str
    account_id: int
    conversation_id: int
    policy: str
    customer_id: str | None = None
    vip: bool = False
    owner: str | None = None
    severity: str | None = None
    level: int = 0
    stage: str | None = None
    row: dict[str, object] = Field(default_factory=dict)
    context: dict[str, object] = Field(default_factory=dict)
    at: datetime


class CountRecentLevelInput(BaseModel):
    policy: str
    level: int
    window_seconds: float
    at: datetime
    exclude_workflow_id: str


class CountResult(BaseModel):
    count: int
