"""What a ticket shows: its status (the `status` query, the console, the
CLI), its board in the Temporal Web UI (current details) and its search
attributes (the Web UI's filters, the console's board).

Search attributes are upserted only when a value changed, all in one
command; the board is not a command, so replays are unaffected by it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from engine.board import ticket_board
    from engine.core import TicketEngine, short_id
    from models import search_attributes as sa
    from models.status import TicketStatus
    from models.ticket_card import TicketCard
    from models.ticket_input import TicketInput


def ticket_status(
    engine: TicketEngine | None, ticket: TicketInput, error: str | None, now: datetime
) -> TicketStatus:
    """The ticket as it stands (`engine` None: still starting, or parked on a policy error)."""
    wid = workflow.info().workflow_id
    if engine is None:
        return TicketStatus(
            ticket_id=wid,
            short_id=short_id(wid),
            policy=ticket.policy,
            stage="policy_error" if error else "starting",
            error=error,
            vip=ticket.contact.vip,
            card=TicketCard.of(ticket),
        )
    e, s = engine, engine.state
    return TicketStatus(
        ticket_id=wid,
        short_id=short_id(wid),
        policy=e.policy.name,
        policy_version=e.policy.version,
        timezone=e.policy.timezone,
        owner=s.owner,
        stage=s.stage,
        vip=bool(s.facts.get("vip")),
        level=s.level,
        sla_state=e.sla_state(),
        now=now,
        next_wakeup=e.next_wakeup(),
        clocks=list(s.clocks.values()),
        handoffs=list(s.handoffs.values()),
        pages=list(s.pages.values()),
        ladder=list(s.ladder),
        rejected_signals=list(s.rejected),
        facts=dict(s.facts),
        run_count=s.runs,
        card=TicketCard.of(s.ticket, s.opened_at),
        acknowledged_at=s.acknowledged_at,
        acknowledged_by=s.acknowledged_by,
        resolved_at=s.resolved_at,
        shadow=s.shadow,
        live_at=s.live_at,
    )


def show_board(status: TicketStatus, engine: TicketEngine) -> None:
    """The Web UI's board (current details)."""
    workflow.set_current_details(
        ticket_board(status, engine.policy, engine.state.ticket.conversation_url)
    )


class SearchAttributes:
    """The ticket's search attributes, upserted when one changed."""

    def __init__(self) -> None:
        self._last: dict[str, Any] = {}

    def upsert(self, e: TicketEngine) -> None:
        wanted: dict[SearchAttributeKey[Any], Any] = {
            sa.TICKET_ID: e.state.workflow_id,
            sa.TICKET_POLICY: e.policy.name,
            sa.TICKET_OWNER: e.state.owner or "",
            sa.TICKET_STAGE: e.state.stage,
            sa.SLA_STATE: e.sla_state(),
            sa.TICKET_VIP: bool(e.state.facts.get("vip")),
            sa.ESCALATION_LEVEL: e.state.level,
        }
        changed = [k.value_set(v) for k, v in wanted.items() if self._last.get(k.name) != v]
        if changed:
            workflow.upsert_search_attributes(changed)
            self._last.update({k.name: v for k, v in wanted.items()})
