"""What the bench's phases measure the stack with: starting tickets (by SDK
or webhook), the worker's memory and CPU, and waiting until tickets opened,
went idle (their histories say so), breached, settled or reached the
sandboxes. Also where a run's figures are recorded (`figure`, `raw`)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import psutil
from temporalio.client import Client

from bench.breaches import CallIndex, idle
from bench.cpu import CpuSeries, cpu_of
from bench.stack import TASK_QUEUE, WEBHOOK_TOKEN, Stack
from bench.tickets import POLICY, ticket, webhook_body
from bench.tickets import now as _now
from models.ticket import ticket_workflow_id
from workflows.ticket import TicketWorkflow


class Measures:
    """The bench's state (the stack, tickets started, figures) and what it
    reads and waits on; the phases (bench/load_phases.py,
    bench/breach_phases.py) build on it."""

    def __init__(self, stack: Stack, args) -> None:
        self.stack = stack
        self.args = args
        assert stack.client is not None  # a Bench runs inside `async with Stack(...)`
        self.client: Client = stack.client
        self.next_conv = 100_000
        self.started = 0  # TicketWorkflows started so far
        self.calls = CallIndex(stack)
        self.figures: dict[str, dict] = {}
        self.open_rate = (
            5.0  # tickets/s, until the throughput phase measures it (sizes the breach phases' lead)
        )
        self.single: float | None = None  # single breach lateness, the breach phases' baseline
        # Scales the fixed waits (settling, margins before deadlines): 1, or less for --smoke.
        self.margin: float = getattr(args, "margin", 1.0)
        self.raw: dict[str, Any] = {}  # the run's other figures, of every JSON shape

    def convs(self, n: int) -> list[int]:
        out = list(range(self.next_conv, self.next_conv + n))
        self.next_conv += n
        return out

    def figure(
        self, key: str, value, unit: str, baseline=None, baseline_label: str = "", target: str = ""
    ) -> None:
        self.figures[key] = {
            "value": None if value is None else round(value, 3),
            "unit": unit,
            "baseline": None if baseline is None else round(baseline, 3),
            "baseline_label": baseline_label,
            "target": target,
        }

    @property
    def pool(self) -> asyncpg.Pool:
        assert self.stack.pool is not None  # the stack is running while the bench runs
        return self.stack.pool

    def worker(self) -> psutil.Process:
        proc = self.stack.worker_proc
        assert proc is not None  # measured only while the stack's worker runs
        return psutil.Process(proc.pid)

    def rss(self) -> int:
        return self.worker().memory_info().rss

    def cpu(self, seconds: float) -> float:
        proc = self.worker()
        before = cpu_of(proc)
        time.sleep(seconds)
        return 100 * (cpu_of(proc) - before) / seconds

    async def opened(self) -> int:
        """Tickets that recorded their `open` input (workflows/inputs.py): once
        the opening decision's actions have returned on the loop that awaits
        them, while they still run beside it (`background-lanes`); `wait_idle`
        says when they are done."""
        return await self.pool.fetchval(
            "SELECT count(*) FROM ticket_inputs WHERE kind = 'open' AND policy = $1", POLICY
        )

    async def wait_opened(self, total: int, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while True:
            if await self.opened() >= total:
                return time.time()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"only {await self.opened()} of {total} tickets opened in {timeout:.0f}s"
                )
            await asyncio.sleep(0.25)

    async def wait_count(self, query: str, n: int, timeout: float) -> float:
        """Until at least `n` workflows match `query` (visibility); returns when (time.time())."""
        deadline = time.monotonic() + timeout
        while (await self.client.count_workflows(query)).count < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {n} workflows match {query!r} after {timeout:.0f}s")
            await asyncio.sleep(0.25)
        return time.time()

    async def wait_idle(
        self,
        workflow_ids: list[str],
        since: float,
        timeout: float,
        quiet: tuple[CpuSeries, str] | None = None,
    ) -> float:
        """Until none of `workflow_ids` has an activity or a workflow task in
        flight (bench/breaches.py `idle`); returns when the last of them
        completed its last workflow task after `since` (the server's clock,
        time.time()). `quiet`: a CPU series and a role (the worker) to wait on
        first, until that role has used under 5 % of a core for a second, so
        the histories are read after the work and not in its way."""
        deadline = time.monotonic() + timeout
        if quiet is not None:
            series, role = quiet
            while time.monotonic() < deadline:
                if series.rate(role, 1.0) <= 0.05:
                    break
                await asyncio.sleep(0.25)
        after = datetime.fromtimestamp(since, UTC)
        pending, last = list(workflow_ids), since
        while True:
            found = await idle(self.client, pending, after)
            if found.last_task_done is not None:
                last = max(last, found.last_task_done.timestamp())
            if not found.busy:
                return last
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{len(found.busy)} of {len(workflow_ids)} workflows still busy "
                    f"after {timeout:.0f}s"
                )
            pending = found.busy
            await asyncio.sleep(0.5)

    async def start_direct(self, convs: list[int], created: datetime, in_flight: int = 32) -> None:
        sem = asyncio.Semaphore(in_flight)

        async def one(c: int) -> None:
            async with sem:
                await self.client.start_workflow(
                    TicketWorkflow.run,
                    ticket(c, created),
                    id=ticket_workflow_id(1, c),
                    task_queue=TASK_QUEUE,
                )

        await asyncio.gather(*(one(c) for c in convs))
        self.started += len(convs)

    async def raw_start(self, i: int) -> None:
        """The baseline: a bare SDK start of a workflow nobody runs."""
        await self.client.start_workflow("BenchNoop", id=f"bench-noop-{i}", task_queue="bench-noop")

    async def post(self, http: httpx.AsyncClient, conv: int) -> None:
        resp = await http.post(
            f"{self.stack.bridge_url}/webhooks/chatwoot",
            json=webhook_body(conv, _now()),
            headers={"x-ticketflow-token": WEBHOOK_TOKEN},
        )
        if resp.status_code != 202:
            raise RuntimeError(f"bridge answered {resp.status_code}: {resp.text[:200]}")

    async def breached(self, workflow_ids: list[str]) -> int:
        return await self.pool.fetchval(
            "SELECT count(DISTINCT workflow_id) FROM ticket_events WHERE action = 'sla.breached' "
            "AND workflow_id = ANY($1::text[])",
            workflow_ids,
        )

    async def wait_settled(self, convs: list[int], timeout: float) -> float:
        """Until every ticket of `convs` has recorded its wake's `advance`
        input: once the breach's actions have returned on the loop that
        awaits them, as soon as they are handed to their lanes beside it
        (`background-lanes`); `wait_idle` says when the tasks are done."""
        ids = [ticket_workflow_id(1, c) for c in convs]
        deadline = time.monotonic() + timeout
        while await self.pool.fetchval(
            "SELECT count(DISTINCT workflow_id) FROM ticket_inputs WHERE kind = 'advance' "
            "AND workflow_id = ANY($1::text[])",
            ids,
        ) < len(ids):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"breaches of {len(ids)} tickets not settled after {timeout:.0f}s"
                )
            await asyncio.sleep(0.25)
        return time.time()

    async def wait_breaches(
        self, convs: list[int], timeout: float, workflow_ids: list[str] | None = None
    ) -> float:
        """Until every ticket's page and note reached the sandboxes and its
        breach row is in Postgres (rows of `workflow_ids`, by default the
        tickets'); returns when that was (time.time())."""
        workflow_ids = workflow_ids or [ticket_workflow_id(1, c) for c in convs]
        deadline = time.monotonic() + timeout
        while not self.calls.done(convs):
            if time.monotonic() > deadline:
                missing = sum(
                    1 for c in convs if c not in self.calls.page or c not in self.calls.note
                )
                raise RuntimeError(f"{missing} of {len(convs)} breaches not done in {timeout:.0f}s")
            await asyncio.sleep(0.05)
        last = max(max(self.calls.page[c], self.calls.note[c]) for c in convs)
        while await self.breached(workflow_ids) < len(convs):
            if time.monotonic() > deadline:
                raise RuntimeError("breach rows missing in ticket_events")
            await asyncio.sleep(0.1)
            last = time.time()
        return last
