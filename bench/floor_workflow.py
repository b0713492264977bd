"""The memory baseline: a workflow that does nothing of ticketflow's.

It runs as many activities as a VIP ticket's opening (policy load, audit
batch, Chatwoot batch) and then sleeps, in a worker with ticketflow's worker
options. What one of these costs when cached is the Temporal SDK's own floor
per workflow run (its sandbox, its state machines in the Rust core): the
part of a ticket's memory that no change to ticketflow can remove.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from models import search_attributes as sa

FLOOR_TASK_QUEUE = "bench-floor"
IDLE = "floor-idle"
OPENING_ACTIVITIES = 3  # a VIP ticket's opening: policy load, then Chatwoot batch + audit batch


@activity.defn
async def floor_noop(n: int) -> int:
    return n


@workflow.defn
class BenchFloor:
    @workflow.run
    async def run(self, activities: int) -> None:
        for i in range(activities):
            await workflow.execute_activity(
                floor_noop, i, start_to_close_timeout=timedelta(seconds=30)
            )
        workflow.upsert_search_attributes(
            [sa.TICKET_STAGE.value_set(IDLE)]
        )  # lets the bench count them
        await workflow.sleep(timedelta(days=1))
