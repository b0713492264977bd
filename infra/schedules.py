"""The reconciliation Temporal Schedule, created (or updated) idempotently
by `ticketflow dev` and `ticketflow setup`."""

from __future__ import annotations

from datetime import timedelta

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from infra.settings import Settings
from models.reconcile import ReconcileInput

log = structlog.get_logger(__name__)


def schedule_id(account_id: int) -> str:
    return f"ticketflow-reconcile-{account_id}"


async def ensure_reconcile_schedule(client: Client, settings: Settings) -> str | None:
    from workflows.reconcile import ReconcileWorkflow

    if not settings.chatwoot_account_id:
        log.warning("no CHATWOOT_ACCOUNT_ID: reconciliation schedule not created")
        return None
    every = timedelta(seconds=settings.reconcile_every_seconds)
    sid = schedule_id(settings.chatwoot_account_id)
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            ReconcileWorkflow.run,
            ReconcileInput(
                account_id=settings.chatwoot_account_id,
                lookback_seconds=max(every.total_seconds() * 6, 3600),
            ),
            id=f"{sid}-run",
            task_queue=settings.temporal_task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(sid, schedule)
        log.info("reconciliation schedule created", schedule_id=sid, every=str(every))
    except ScheduleAlreadyRunningError:

        async def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(sid).update(update)
    return sid
