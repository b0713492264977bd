"""An action the ticket could not carry out lands in its audit trail too.

The ladder (`status().ladder`, via `TicketEngine.record_failure`) already
shows a failed action; this adds a `ticket_events` row (`action.failed`,
keyed by the action's key, so a retry or replay never writes it twice), so
`ticketflow show`, reports and an auditor see the failure where they see
every other action. Behind `workflow.patched(Patch.AUDIT_FAILED_ACTIONS)`: it adds
an activity to the failure path of running tickets. If the row itself cannot
be written (the data error that failed the action may be in the ticket's own
ids), the ladder entry stands alone and the ticket goes on.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.audit import AuditActivities
    from models.actions import Action
    from models.audit import TicketEventRow
    from workflows.actions import (
        ACTIVITY_FAILED,
        ActionContext,
        failure_message,
        local_options,
        run_activity,
    )
    from workflows.versions import Patch


async def audit_failed_action(a: Action, ctx: ActionContext, why: str, now: datetime) -> None:
    if not workflow.patched(Patch.AUDIT_FAILED_ACTIONS):
        return
    t = ctx.ticket
    row = TicketEventRow(
        idempotency_key=f"{a.key}:failed"[:300],
        workflow_id=ctx.workflow_id,
        account_id=t.account_id,
        conversation_id=t.conversation_id,
        policy=ctx.policy,
        action="action.failed",
        target=a.target,
        details={"action": a.kind, "summary": a.summary, "error": why[:500]},
        at=now,
    )
    try:
        await run_activity(
            AuditActivities.record_ticket_event,
            row,
            f"Record failure: {a.summary}",
            *local_options(ctx),
        )
    except ACTIVITY_FAILED as err:
        workflow.logger.warning(
            "failed action could not be audited",
            extra={"action": a.kind, "error": failure_message(err)},
        )
