"""The bench's load phases: warming up (the idle baselines), webhook latency
and throughput against raw SDK starts, and worker memory per ticket against
the SDK's floor (a BenchFloor worker of its own), with idle CPU at the top
level. They also measure how fast tickets open, which sizes the breach
phases' lead (bench/breach_phases.py)."""

from __future__ import annotations

import asyncio
import sys
import time

import httpx
import psutil

from bench.floor_workflow import (
    FLOOR_TASK_QUEUE,
    OPENING_ACTIVITIES,
    BenchFloor,
)
from bench.floor_workflow import (
    IDLE as FLOOR_IDLE,
)
from bench.measures import Measures
from bench.report import pct_of
from bench.tickets import now as _now
from infra import processes
from models.ticket import ticket_workflow_id


class LoadPhases(Measures):
    """warm_up, latency, throughput and memory (see PHASES in bench/phases.py)."""

    async def warm_up(self) -> None:
        convs = self.convs(3)
        await self.start_direct(convs, _now())
        await self.wait_opened(self.started, 120)
        await asyncio.sleep(2 * self.margin)
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
        recorded = await self.wait_opened(self.started, 120 + n * 2)
        # Fully opened: every opening action returned and the ticket asleep (its
        # last workflow task completed). Its `open` input alone says that only on
        # the loop that awaits its actions (before `background-lanes`).
        done = await self.wait_idle([ticket_workflow_id(1, c) for c in convs], first, 300)
        self.open_rate = n / (done - first)
        self.raw["opened_inputs_recorded_per_s"] = n / (recorded - first)
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
                await asyncio.sleep(3 * self.margin)

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
                await self.wait_idle([ticket_workflow_id(1, c) for c in convs], 0, 300)
            await asyncio.sleep(3 * self.margin)
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
