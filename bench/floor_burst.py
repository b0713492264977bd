"""The burst floor, run in the same bench invocation as ticketflow's burst:
N BenchBreachFloor workflows (bench/floor_breach.py) in a worker process of
their own, all due in the same second, measured exactly as the tickets are:
lateness from when each page reached the PagerDuty stand-in, "all done" when
every page, note and `sla.breached` row is in, CPU seconds per role from 1 s
before the deadline. Ticketflow's burst figures are read against these."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import timedelta

from bench.breaches import CallIndex, events_per_breach
from bench.cpu import CpuSeries
from bench.floor_breach import BREACH_FLOOR_TASK_QUEUE, WAITING, BenchBreachFloor, BreachFloorInput
from bench.report import pct
from bench.tickets import now as _now
from infra import processes

FLOOR_WORKFLOW_ID = "bench-breach-floor-{}"


def page_first(calls: CallIndex, convs: list[int]) -> int:
    """How many of `convs` had their page reach PagerDuty no later than their
    note reached Chatwoot."""
    return sum(1 for c in convs if calls.page[c] <= calls.note[c])


async def floor_burst(bench, n: int) -> dict:
    """Run the floor's burst of `n` breaches on `bench`'s stack (a
    bench.phases.Bench); its figures."""
    stack = bench.stack
    proc = await processes.spawn(
        sys.executable,
        "-m",
        "bench.floor_worker",
        stack.settings.temporal_address,
        "breach",
        log_path=stack.work / "breach-floor-worker.log",
        env=stack.env,
    )
    try:
        convs = bench.convs(n)
        due = _now() + timedelta(
            seconds=n / 10 + 30 * bench.margin
        )  # all asleep first, even at 10 starts/s (a loaded machine)
        sem = asyncio.Semaphore(32)

        async def start(c: int) -> None:
            async with sem:
                await bench.client.start_workflow(
                    BenchBreachFloor.run,
                    BreachFloorInput(account_id=1, conversation_id=c, due=due),
                    id=FLOOR_WORKFLOW_ID.format(c),
                    task_queue=BREACH_FLOOR_TASK_QUEUE,
                )

        await asyncio.gather(*(start(c) for c in convs))
        await bench.wait_count(
            f"WorkflowType = 'BenchBreachFloor' AND TicketStage = '{WAITING}'",
            n,
            due.timestamp() - time.time() + 600,
        )
        asleep_before = time.time() <= due.timestamp()
        await asyncio.sleep(max(0.0, due.timestamp() - 1 - time.time()))
        ids = [FLOOR_WORKFLOW_ID.format(c) for c in convs]
        series = CpuSeries(stack.pids_by_role() | {"floor_worker": [proc.pid]}).start()
        try:
            last = await bench.wait_breaches(
                convs, max(0, due.timestamp() - time.time()) + 900, ids
            )
            # as the tickets: until each has also finished its workflow tasks (here: completed),
            # the last one's completion read from the histories
            await bench.wait_count(
                "WorkflowType = 'BenchBreachFloor' AND ExecutionStatus = 'Completed'", n, 300
            )
            settled = max(
                last, await bench.wait_idle(ids, due.timestamp(), 300, (series, "floor_worker"))
            )
        finally:
            series.stop()
    finally:
        await processes.terminate(proc, "breach floor worker")
    late = [bench.calls.page[c] - due.timestamp() for c in convs]
    history = await events_per_breach(
        bench.client, [FLOOR_WORKFLOW_ID.format(c) for c in convs[:: max(1, n // 20)]], due
    )
    cpu = series.window(series.started, settled)
    return {
        "n": n,
        "asleep_before_deadline": asleep_before,
        "p50": pct(late, 50),
        "p99": pct(late, 99),
        "max": max(late),
        "all_done": last - due.timestamp(),
        "settled": settled - due.timestamp(),
        "cpu_s": cpu,
        "cpu_ms_per_breach": 1000 * (cpu["floor_worker"] + cpu["temporal"]) / n,
        "page_before_note": page_first(bench.calls, convs),
        "history_per_breach": history,
    }
