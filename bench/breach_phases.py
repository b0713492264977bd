"""The bench's breach phases: a single breach on an idle stack (the
baseline), a burst of deadlines in the same second against the same burst
of the floor program (bench/floor_burst.py), and catch-up after a worker
outage that spans the deadline; with where each breach's time went
(bench/breaches.py)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from bench.breaches import breach_stages, events_per_breach
from bench.cpu import CpuSeries
from bench.floor_burst import floor_burst, page_first
from bench.measures import Measures
from bench.report import pct
from bench.tickets import ACK_SLA
from bench.tickets import now as _now
from models.ticket import ticket_workflow_id


class BreachPhases(Measures):
    """single_breach, burst and catch_up (see PHASES in bench/phases.py)."""

    async def single_breach(self) -> None:
        [c] = self.convs(1)
        due = _now() + timedelta(seconds=8 * self.margin)
        await self.start_direct([c], due - ACK_SLA)
        await self.wait_breaches([c], 120)
        self.single = self.calls.page[c] - due.timestamp()
        self.raw["single_breach_stages_s"] = await self.breach_stages([c], due)
        self.figure("single_breach_lateness_s", self.single, "s", None, "", "<= 1 s")

    async def burst(self) -> None:
        n = self.args.burst
        lead = n / max(self.open_rate, 0.5) * 2 + 20 * self.margin
        due = _now() + timedelta(seconds=min(lead, 25 * 60))
        convs = self.convs(n)
        print(
            f"[bench] {n} deadlines at {due.astimezone().strftime('%H:%M:%S')} "
            "(profile the worker then)",
            flush=True,
        )
        await self.start_direct(convs, due - ACK_SLA)
        await self.wait_opened(self.started, lead + 600)
        ids = [ticket_workflow_id(1, c) for c in convs]
        try:  # every opening action returned too, so none of them runs in the burst's window
            opened = await self.wait_idle(ids, 0, max(1.0, due.timestamp() - time.time() - 3))
        except RuntimeError:
            opened = time.time()
        self.raw["burst_opened_before_deadline"] = opened <= due.timestamp()
        self.raw["burst_all_opened_s_before_deadline"] = due.timestamp() - opened
        await asyncio.sleep(max(0.0, due.timestamp() - 1 - time.time()))
        series = CpuSeries(self.stack.pids_by_role()).start()
        try:
            last = await self.wait_breaches(convs, max(0, due.timestamp() - time.time()) + 900)
            recorded = await self.wait_settled(convs, 300)
            settled = await self.wait_idle(ids, due.timestamp(), 300, (series, "worker"))
        finally:
            series.stop()
        self.raw["burst_inputs_recorded_s"] = recorded - due.timestamp()
        self.raw["burst_settled_s"] = max(last, settled) - due.timestamp()
        # Where the machine's CPU went from 1 s before the deadline until every
        # breach action was done and every ticket had finished the workflow tasks
        # that followed (its last one completed, read from its history).
        self.raw["burst_cpu_s"] = series.window(series.started, max(last, settled))
        late = [self.calls.page[c] - due.timestamp() for c in convs]
        self.raw["burst_page_before_note"] = page_first(self.calls, convs)
        cpu = self.raw["burst_cpu_s"]
        floor = self.raw["burst_floor"] = await floor_burst(
            self, n
        )  # the same burst, simplest correct program
        label = "floor program: sleep, reply check, then page + note + audit row"
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
        lead = n / max(self.open_rate, 0.5) * 2 + 15 * self.margin + outage / 2
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
