"""ReconcileWorkflow: run by a Temporal Schedule every few minutes (activities/reconcile.py)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.reconcile import ReconcileActivities
    from models.reconcile import ReconcileInput, ReconcileResult
    from workflows.actions import RETRY


@workflow.defn
class ReconcileWorkflow:
    @workflow.run
    async def run(self, inp: ReconcileInput) -> ReconcileResult:
        return await workflow.execute_activity_method(
            ReconcileActivities.sync_open_conversations,
            inp,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=RETRY,
            summary=(
                "Start missed tickets and recover missed replies and resolutions "
                f"from Chatwoot (account {inp.account_id})"
            ),
        )
