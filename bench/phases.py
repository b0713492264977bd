"""The bench's phases, in the order they run (PHASES), and the measures
they take on the stack: webhook latency and throughput against raw SDK
starts, worker memory per ticket against the SDK's floor, idle CPU, a
single breach, a burst of deadlines in the same second against the same
burst of the floor program (bench/floor_burst.py), and catch-up after a
worker outage. Each records its figures with the baseline measured in the
same run."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import psutil
from temporalio.client import Client

from bench.breaches import CallIndex, breach_stages, events_per_breach
from bench.floor_burst import floor_burst, page_first
from bench.floor_workflow import (
    FLOOR_TASK_QUEUE,
    OPENING_ACTIVITIES,
    BenchFloor,
)
from bench.floor_workflow import (
    IDLE as FLOOR_IDLE,
)
from bench.report import pct, pct_of
from bench.stack import TASK_QUEUE, WEBHOOK_TOKEN, Stack
from bench.tickets import ACK_SLA, POLICY, ticket, webhook_body
from bench.tickets import now as _now
from infra import processes
from models.ticket import ticket_workflow_id
from workflows.ticket import TicketWorkflow

PHASES = ["warm_up", "latency", "throughput", "memory", "single_breach", "burst", "catch_up"]


class Bench:
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

    # ------------------------------------------------------------ measures

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

    def cpu_seconds(self, extra: dict[str, list[int]] | None = None) -> dict[str, float]:
        """CPU seconds used so far by each role of the stack and `extra`'s
        (Postgres: every `postgres` process on the machine), and the
        machine's idle seconds."""
        out: dict[str, float] = {}
        for role, pids in (self.stack.pids_by_role() | (extra or {})).items():
            out[role] = sum(_cpu(psutil.Process(pid)) for pid in pids)
        out["postgres"] = sum(
            _cpu(p)
            for p in psutil.process_iter(["name"])
            if (p.info["name"] or "").startswith("postgres")
        )
        out["machine_idle"] = psutil.cpu_times().idle
        return out

    def cpu(self, seconds: float) -> float:
        proc = self.worker()
        before = _cpu(proc)
        time.sleep(seconds)
        return 100 * (_cpu(proc) - before) / seconds

    async def opened(self) -> int:
        """Tickets whose opening actions are all done: a ticket records its
        `open` input (workflows/inputs.py) once its opening decision's
        actions have returned. (Its search attributes say less: they are
        upserted in the task that decides, before the actions run.)"""
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
        """Until every ticket of `convs` has finished the workflow tasks that
        follow its breach: it records the wake's `advance` input once the
        breach's actions have returned, in the last of those tasks."""
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

    # -------------------------------------------------------------- phases

    async def warm_up(self) -> None:
        convs = self.convs(3)
        await self.start_direct(convs, _now())
        await self.wait_opened(self.started, 120)
        await asyncio.sleep(2)
        self.base_tickets = self.started
        self.base_rss = self.rss()
        self.base_cpu = self.cpu(self.args.idle_seconds)
        self.raw["worker_base_rss_mib"] = self.base_rss / 2**20

    async def latency(self) -> None:
        n = self.args.latency
        raw, hook = [], []
        async with httpx.AsyncClient(timeout=30) as http:
            for i, c in enumerate(self.convs(n)):
                t0 = time.perf_counter()
                await self.raw_start(i)
                raw.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                await self.post(http, c)
                hook.append(time.perf_counter() - t0)
        self.started += n
        await self.wait_opened(self.started, 60 + n * 2)
        for p in (50, 99):
            self.figure(
                f"webhook_to_started_p{p}_ms",
                1000 * pct_of(hook, p),
                "ms",
                1000 * pct_of(raw, p),
                "raw client.start_workflow",
                "<= 1.2x baseline",
            )

    async def throughput(self) -> None:
        n, k = self.args.throughput, 32
        sem = asyncio.Semaphore(k)

        async def timed(coro_fn, items) -> float:
            async def one(x):
                async with sem:
                    await coro_fn(x)

            t0 = time.perf_counter()
            await asyncio.gather(*(one(x) for x in items))
            return len(items) / (time.perf_counter() - t0)

        raw_rate = await timed(self.raw_start, range(10_000, 10_000 + n))
        convs = self.convs(n)
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=k)) as http:
            first = time.time()
            hook_rate = await timed(lambda c: self.post(http, c), convs)
        self.started += n
        done = await self.wait_opened(self.started, 120 + n * 2)
        self.open_rate = n / (done - first)
        self.figure(
            "bridge_throughput_per_s",
            hook_rate,
            "webhooks/s",
            raw_rate,
            "raw SDK starts/s, 32 in flight",
            ">= 0.8x baseline",
        )
        self.figure(
            "tickets_opened_per_s",
            self.open_rate,
            "tickets/s",
            hook_rate,
            "webhooks accepted/s",
            ">= 30/s",
        )

    async def memory_floor(self, n: int) -> float:
        """KiB per cached BenchFloor workflow (bench/floor_workflow.py) in a
        worker process of its own with ticketflow's worker options: the
        SDK's floor per workflow run, the baseline for the tickets' figure."""
        proc = await processes.spawn(
            sys.executable,
            "-m",
            "bench.floor_worker",
            self.stack.settings.temporal_address,
            log_path=self.stack.work / "floor-worker.log",
            env=self.stack.env,
        )
        try:
            query = f"WorkflowType = 'BenchFloor' AND TicketStage = '{FLOOR_IDLE}'"

            async def start(first: int, count: int) -> None:
                sem = asyncio.Semaphore(32)

                async def one(i: int) -> None:
                    async with sem:
                        await self.client.start_workflow(
                            BenchFloor.run,
                            OPENING_ACTIVITIES,
                            id=f"bench-floor-{i}",
                            task_queue=FLOOR_TASK_QUEUE,
                        )

                await asyncio.gather(*(one(i) for i in range(first, first + count)))
                deadline = time.monotonic() + 120 + count
                while (await self.client.count_workflows(query)).count < first + count:
                    if time.monotonic() > deadline:
                        raise RuntimeError("floor workflows did not all reach their sleep")
                    await asyncio.sleep(0.5)
                await asyncio.sleep(3)

            await start(0, 3)
            base = psutil.Process(proc.pid).memory_info().rss
            await start(3, n)
            return (psutil.Process(proc.pid).memory_info().rss - base) / n / 1024
        finally:
            await processes.terminate(proc, "floor worker")

    async def memory(self) -> None:
        floor = await self.memory_floor(min(1000, self.args.memory_levels[-1]))
        self.raw["worker_base_rss_kib"] = self.base_rss / 1024
        for level in self.args.memory_levels:
            if level > self.started:
                convs = self.convs(level - self.started)
                await self.start_direct(convs, _now())
                await self.wait_opened(self.started, 120 + len(convs) * 2)
            await asyncio.sleep(3)
            rss = self.rss()
            per = (rss - self.base_rss) / max(1, self.started - self.base_tickets) / 1024
            self.raw[f"worker_rss_mib_at_{level}"] = rss / 2**20
            self.figure(
                f"worker_rss_kib_per_ticket_at_{level}",
                per,
                "KiB/ticket",
                floor,
                f"KiB per idle workflow that ran {OPENING_ACTIVITIES} activities (SDK floor)",
                "<= 1.3x floor at 5k",
            )
        top = self.args.memory_levels[-1]
        self.figure(
            f"worker_idle_cpu_pct_at_{top}",
            await asyncio.to_thread(self.cpu, self.args.idle_seconds),
            "% of a core",
            self.base_cpu,
            "idle CPU with 3 tickets",
            "<= 5%",
        )

    async def single_breach(self) -> None:
        [c] = self.convs(1)
        due = _now() + timedelta(seconds=8)
        await self.start_direct([c], due - ACK_SLA)
        await self.wait_breaches([c], 120)
        self.single = self.calls.page[c] - due.timestamp()
        self.raw["single_breach_stages_s"] = await self.breach_stages([c], due)
        self.figure("single_breach_lateness_s", self.single, "s", None, "", "<= 1 s")

    async def burst(self) -> None:
        n = self.args.burst
        lead = n / max(self.open_rate, 0.5) * 2 + 20
        due = _now() + timedelta(seconds=min(lead, 25 * 60))
        convs = self.convs(n)
        print(
            f"[bench] {n} deadlines at {due.astimezone().strftime('%H:%M:%S')} "
            "(profile the worker then)",
            flush=True,
        )
        await self.start_direct(convs, due - ACK_SLA)
        opened = await self.wait_opened(self.started, lead + 600)
        self.raw["burst_opened_before_deadline"] = opened <= due.timestamp()
        self.raw["burst_all_opened_s_before_deadline"] = due.timestamp() - opened
        await asyncio.sleep(max(0.0, due.timestamp() - 1 - time.time()))
        cpu0, t0 = self.cpu_seconds(), time.time()
        last = await self.wait_breaches(convs, max(0, due.timestamp() - time.time()) + 900)
        self.raw["burst_settled_s"] = await self.wait_settled(convs, 300) - due.timestamp()
        cpu1, t1 = self.cpu_seconds(), time.time()
        # Where the machine's CPU went from 1 s before the deadline until every
        # breach action was done and every ticket had finished the workflow tasks
        # that followed (its wake recorded in ticket_inputs).
        self.raw["burst_cpu_s"] = {k: round(cpu1[k] - cpu0[k], 2) for k in cpu0} | {
            "wall": round(t1 - t0, 2)
        }
        late = [self.calls.page[c] - due.timestamp() for c in convs]
        self.raw["burst_page_before_note"] = page_first(self.calls, convs)
        cpu = self.raw["burst_cpu_s"]
        floor = self.raw["burst_floor"] = await floor_burst(
            self, n
        )  # the same burst, simplest correct program
        label = "floor program: sleep, then page + note + audit row"
        for p in (50, 99):
            self.figure(
                f"breach_lateness_p{p}_s",
                pct(late, p),
                "s",
                floor[f"p{p}"],
                label,
                "<= 1.5x floor" if p == 99 else "",
            )
        self.figure("breach_lateness_max_s", max(late), "s", floor["max"], label, "")
        self.figure("breach_all_done_s", last - due.timestamp(), "s", floor["all_done"], label, "")
        self.figure(
            "burst_cpu_ms_per_breach",
            1000 * (cpu["worker"] + cpu["temporal"]) / n,
            "ms (worker + server)",
            floor["cpu_ms_per_breach"],
            label,
            "<= 1.5x floor",
        )
        self.raw["burst_stages_s"] = await self.breach_stages(convs[:: max(1, n // 50)], due)
        self.raw["burst_history_per_breach"] = await events_per_breach(
            self.client, [ticket_workflow_id(1, c) for c in convs[:: max(1, n // 20)]], due
        )

    async def breach_stages(self, convs: list[int], due: datetime) -> dict[str, dict[str, float]]:
        found = await breach_stages(self.client, convs, due)
        self.raw.setdefault("page_local_fallbacks", {})[str(len(convs))] = (
            found.page_local_fallbacks
        )
        self.raw.setdefault("workflow_task_timeouts", {})[str(len(convs))] = (
            found.workflow_task_timeouts
        )
        return found.stages

    async def catch_up(self) -> None:
        n, outage = self.args.catchup, self.args.outage
        lead = n / max(self.open_rate, 0.5) * 2 + 15 + outage / 2
        due = _now() + timedelta(seconds=lead)
        convs = self.convs(n)
        await self.start_direct(convs, due - ACK_SLA)
        await self.wait_opened(self.started, lead + 600)
        await asyncio.sleep(max(0.0, due.timestamp() - outage / 2 - time.time()))
        stopped = time.time()
        await self.stack.stop_worker()
        await asyncio.sleep(max(0.0, stopped + outage - time.time()))
        restarted = time.time()
        await self.stack.start_worker()
        done = await self.wait_breaches(convs, 900)
        self.raw["catchup_outage_s"] = restarted - stopped
        self.raw["catchup_deadline_inside_outage"] = stopped < due.timestamp() < restarted
        self.figure(
            "catchup_s",
            done - restarted,
            "s",
            self.single,
            "single breach, idle stack",
            f"<= 10 s after a {outage:.0f} s outage",
        )


def _cpu(proc: psutil.Process) -> float:
    try:
        t = proc.cpu_times()
        return t.user + t.system
    except psutil.Error:
        return 0.0
