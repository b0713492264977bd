"""TicketWorkflow: one long-lived workflow per Chatwoot conversation."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.audit import AuditActivities
    from models import search_attributes as sa
    from models.audit import TicketEventRow
    from models.signals import AgentReplied, CustomerReplied, Resolved
    from models.status import TicketStatus
    from models.ticket import TicketInput


@workflow.defn
class TicketWorkflow:
    def __init__(self) -> None:
        self._input: TicketInput | None = None
        self._stage = "open"
        self._events_seen = 0

    def _now(self) -> datetime:
        assert self._input is not None
        return workflow.now() + timedelta(seconds=self._input.clock_offset_seconds)

    @workflow.run
    async def run(self, ticket: TicketInput) -> str:
        self._input = ticket
        info = workflow.info()
        workflow.upsert_search_attributes(
            [
                sa.TICKET_ID.value_set(info.workflow_id),
                sa.TICKET_POLICY.value_set(ticket.policy),
                sa.TICKET_STAGE.value_set(self._stage),
                sa.TICKET_VIP.value_set(ticket.contact.vip),
            ]
        )
        await workflow.execute_activity_method(
            AuditActivities.record_ticket_event,
            TicketEventRow(
                idempotency_key=f"{info.workflow_id}:opened",
                workflow_id=info.workflow_id,
                account_id=ticket.account_id,
                conversation_id=ticket.conversation_id,
                policy=ticket.policy,
                action="ticket.opened",
                at=self._now(),
            ),
            start_to_close_timeout=timedelta(seconds=30),
            summary="Audit: ticket opened",
        )
        await workflow.wait_condition(lambda: self._stage == "resolved")
        return self._stage

    @workflow.signal
    def customer_replied(self, event: CustomerReplied) -> None:
        self._events_seen += 1

    @workflow.signal
    def agent_replied(self, event: AgentReplied) -> None:
        self._events_seen += 1

    @workflow.signal
    def resolved(self, event: Resolved) -> None:
        self._events_seen += 1
        self._stage = "resolved"

    @workflow.query
    def status(self) -> TicketStatus:
        assert self._input is not None
        return TicketStatus(
            ticket_id=workflow.info().workflow_id,
            policy=self._input.policy,
            stage=self._stage,
            vip=self._input.contact.vip,
            events_seen=self._events_seen,
        )
