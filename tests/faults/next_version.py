"""The next version of TicketWorkflow, for the rolling-deploy scenario
(tests/faults/test_rolling_deploy.py): the same workflow type with one change
behind `workflow.patched(NEXT_PATCH)`: a new ticket first writes a
`deploy.next_version` row to its audit trail, so which path a ticket took is
visible from outside (Postgres) as well as in its history (the marker).

The change adds a marker and an activity at the start of a run, the kind of
change today's code cannot replay: a history that took the new path fails on
a worker without it (a non-determinism error). `tests/faults/next_worker.py`
runs this class in a worker that keeps the patch dormant or makes it active.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.audit import AuditActivities
    from models.audit import TicketEventRow
    from models.status import TicketStatus
    from models.ticket_input import TicketInput
    from workflows.actions import run_activity
    from workflows.ticket import TicketWorkflow

NEXT_PATCH = "faults-next-version"
NEXT_ACTION = "deploy.next_version"  # the audit row only the new path writes


@workflow.defn(name="TicketWorkflow")
class NextTicketWorkflow(TicketWorkflow):
    @workflow.run
    async def run(self, ticket: TicketInput) -> TicketStatus:
        # First thing in a new ticket's run: a replay decides from the ticket's
        # own history (marker or none); a continued run has opened already.
        if ticket.carry is None and workflow.patched(NEXT_PATCH):
            wid = workflow.info().workflow_id
            row = TicketEventRow(
                idempotency_key=f"{wid}:{NEXT_ACTION}",
                workflow_id=wid,
                account_id=ticket.account_id,
                conversation_id=ticket.conversation_id,
                policy=ticket.policy,
                action=NEXT_ACTION,
                at=workflow.now(),
            )
            await run_activity(
                AuditActivities.record_ticket_event, row, "Record: opened on the next version"
            )
        return await super().run(ticket)
