"""What the ticket workflow's `status` query returns."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class RejectedSignal(BaseModel):
    signal: str
    reason: str
    at: datetime


class TicketStatus(BaseModel):
    ticket_id: str
    policy: str
    owner: str | None = None
    stage: str
    vip: bool = False
    events_seen: int = 0
    rejected_signals: list[RejectedSignal] = Field(default_factory=list)
