"""What the ticket workflow's `status` query (and its updates) return."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from models.state import ClockState, HandoffState, LadderEntry, PageState, RejectedSignal
from models.ticket_card import TicketCard


class TicketStatus(BaseModel):
    ticket_id: str
    short_id: str | None = None
    policy: str
    policy_version: str | None = None
    timezone: str | None = None  # the pack's display zone
    owner: str | None = None
    stage: str
    vip: bool = False
    level: int = 0
    sla_state: str = "ok"
    now: datetime | None = None  # the ticket's clock (for "time left")
    next_wakeup: datetime | None = None
    clocks: list[ClockState] = Field(default_factory=list)
    handoffs: list[HandoffState] = Field(default_factory=list)
    pages: list[PageState] = Field(default_factory=list)
    ladder: list[LadderEntry] = Field(default_factory=list)
    rejected_signals: list[RejectedSignal] = Field(default_factory=list)
    facts: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None  # e.g. the policy could not be loaded
    run_count: int = 1  # runs so far (continue-as-new)
    # Who and what (the board's fallback for tickets started without the memo), and
    # what the console needs to offer only the actions that apply (console/applicable.py).
    card: TicketCard | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    # Shadow mode (models/shadow.py): why nothing this ticket decides is sent (None: live);
    # `live_at`: when a ticket that started in shadow went live.
    shadow: str | None = None
    live_at: datetime | None = None

    @property
    def last_page(self) -> PageState | None:
        """The newest page: who was last paged, and whether they acknowledged."""
        return max(self.pages, key=lambda p: p.at) if self.pages else None

    @property
    def open_handoffs(self) -> list[HandoffState]:
        return [h for h in self.handoffs if h.status in ("open", "failed")]
