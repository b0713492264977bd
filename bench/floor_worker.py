"""`python -m bench.floor_worker ADDRESS [memory|breach]`: a worker process
for the bench's floors, with ticketflow's worker options (same cache, same
sandbox, its workflow module passed through like `workflows/`), so what it
costs is comparable to `ticketflow worker`'s:

- `memory` (default): bench/floor_workflow.py, RSS per cached workflow;
- `breach`: bench/floor_breach.py with ticketflow's own PagerDuty, Chatwoot
  and audit activities and clients (settings from the environment, as the
  bench's worker gets them), CPU and lateness per breach.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Callable
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from activities.audit import AuditActivities
from activities.chatwoot import ChatwootActivities
from activities.pagerduty import PagerDutyActivities
from bench.floor_breach import BREACH_FLOOR_TASK_QUEUE, BenchBreachFloor
from bench.floor_workflow import FLOOR_TASK_QUEUE, BenchFloor, floor_noop
from infra.settings import Settings
from worker import activity_clients, worker_options


async def main(address: str, mode: str) -> None:
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    settings = Settings(temporal_address=address)
    options = worker_options(settings, client.data_converter)
    runner = options["workflow_runner"]
    options["workflow_runner"] = dataclasses.replace(  # the same runner class as ticketflow's
        runner,
        restrictions=runner.restrictions.with_passthrough_modules(
            "bench.floor_workflow", "bench.floor_breach"
        ),
    )
    if mode == "memory":
        async with Worker(
            client,
            task_queue=FLOOR_TASK_QUEUE,
            workflows=[BenchFloor],
            activities=[floor_noop],
            **options,
        ):
            await asyncio.Event().wait()
        return
    async with activity_clients(settings) as (http, pool):
        chatwoot = ChatwootActivities(http, settings)
        activities: list[Callable[..., Any]] = [
            PagerDutyActivities(http, settings).send_event,
            chatwoot.send_message,
            chatwoot.check_reply,
            AuditActivities(pool).record_ticket_event,
        ]
        async with Worker(
            client,
            task_queue=BREACH_FLOOR_TASK_QUEUE,
            workflows=[BenchBreachFloor],
            activities=activities,
            **options,
        ):
            await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "memory"))
