"""`python -m bench.floor_worker ADDRESS`: a worker process for
bench/floor_workflow.py with ticketflow's worker options (same cache, same
sandbox, its workflow module passed through like `workflows/`), so its RSS per
cached workflow is comparable to `ticketflow worker`'s per ticket."""

from __future__ import annotations

import asyncio
import sys

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from bench.floor_workflow import FLOOR_TASK_QUEUE, BenchFloor, floor_noop
from infra.settings import Settings
from worker import worker_options


async def main(address: str) -> None:
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    options = worker_options(Settings(temporal_address=address))
    runner = options["workflow_runner"]
    options["workflow_runner"] = SandboxedWorkflowRunner(
        restrictions=runner.restrictions.with_passthrough_modules("bench.floor_workflow"))
    async with Worker(client, task_queue=FLOOR_TASK_QUEUE, workflows=[BenchFloor], activities=[floor_noop],
                      **options):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
