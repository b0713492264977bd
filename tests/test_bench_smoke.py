"""`python -m bench --smoke` runs every phase end to end and reports every
figure; `--phases` runs only the phases named.

No timing assertion: speed targets live in the bench's printed numbers,
not in tests (CI machines are loaded). The smoke sizes (a handful of
tickets, fixed waits cut to a quarter) exercise each phase's code; the
numbers they print mean nothing."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

FIGURES = {
    "webhook_to_started_p50_ms",
    "webhook_to_started_p99_ms",
    "bridge_throughput_per_s",
    "tickets_opened_per_s",
    "worker_rss_kib_per_ticket_at_24",  # --smoke's memory levels
    "worker_rss_kib_per_ticket_at_32",
    "worker_idle_cpu_pct_at_32",
    "single_breach_lateness_s",
    "breach_lateness_p50_s",
    "breach_lateness_p99_s",
    "breach_lateness_max_s",
    "breach_all_done_s",
    "burst_cpu_ms_per_breach",
    "catchup_s",
}
PAIRED = FIGURES - {"single_breach_lateness_s"}  # the baseline the others are read against
BURST = 8  # --smoke's burst size


RATIOS = {"burst_p99", "cpu_per_breach", "rss_per_ticket"}


async def _bench(out: Path, *args: str) -> tuple[dict, str]:
    root = Path(__file__).resolve().parent.parent
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench",
        *args,
        "--output",
        str(out),
        cwd=str(root),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), 900)
    assert proc.returncode == 0, output.decode()[-3000:]
    return json.loads(out.read_text()), output.decode()


async def test_smoke_bench_reports_every_figure(tmp_path: Path):
    results, output = await _bench(tmp_path / "results.json", "--smoke")
    figures = results["figures"]
    assert set(figures) == FIGURES
    assert all(f["value"] is not None for f in figures.values()), figures
    assert all(figures[k]["baseline"] is not None for k in PAIRED), figures
    assert results["machine"]["nproc"] >= 1 and results["load_before"] and results["load_after"]
    assert results["raw"]["catchup_deadline_inside_outage"] is True
    stages = results["raw"][
        "burst_stages_s"
    ]  # where the burst's lateness went, from sampled histories
    assert {"timer_fired", "decision_started", "decision_completed", "page_completed"} <= set(
        stages
    )
    assert (
        stages["timer_fired"]["p50"]
        <= stages["decision_started"]["p50"]
        <= stages["page_completed"]["p50"]
    )
    cpu = results["raw"]["burst_cpu_s"]  # where the machine's CPU went during the burst
    assert {
        "temporal",
        "worker",
        "bridge",
        "bench_and_sandboxes",
        "postgres",
        "machine_idle",
        "wall",
    } <= set(cpu)
    assert cpu["worker"] > 0 and cpu["temporal"] > 0 and cpu["wall"] > 0
    assert figures["worker_rss_kib_per_ticket_at_32"]["baseline"] > 0  # the SDK floor per workflow
    assert "webhook_to_started_p50_ms" in output  # the table was printed

    # The burst floor runs in the same invocation as ticketflow's burst, and the
    # three ratios against the floors land under one key.
    ratios = results["floor_ratios"]
    assert set(ratios) == RATIOS and all(isinstance(v, float) and v > 0 for v in ratios.values()), (
        ratios
    )
    for key in (
        "breach_lateness_p99_s",
        "burst_cpu_ms_per_breach",
        "worker_rss_kib_per_ticket_at_32",
    ):
        assert figures[key]["value"] > 0 and figures[key]["baseline"] > 0, figures[key]
    assert ratios["burst_p99"] == round(
        figures["breach_lateness_p99_s"]["value"] / figures["breach_lateness_p99_s"]["baseline"], 2
    )
    floor = results["raw"][
        "burst_floor"
    ]  # measured as the tickets are: every page, note and row landed
    assert floor["n"] == BURST and floor["asleep_before_deadline"] is True
    assert floor["cpu_s"]["floor_worker"] > 0 and floor["cpu_s"]["temporal"] > 0
    assert (
        0 <= results["raw"]["burst_page_before_note"] <= BURST
        and results["raw"]["burst_settled_s"] > 0
    )
    assert floor["settled"] > 0
    assert "floor ratios" in output


async def test_phases_runs_only_the_phases_named(tmp_path: Path):
    """`--phases` runs warm-up and the phases named, an explicit size wins
    over the preset's, and the report says which ratios had no phase."""
    results, output = await _bench(
        tmp_path / "results.json", "--smoke", "--phases", "latency", "--latency", "3"
    )
    assert results["config"]["latency"] == 3 and results["config"]["phases"] == [
        "warm_up",
        "latency",
    ]
    figures = results["figures"]
    assert set(figures) == {"webhook_to_started_p50_ms", "webhook_to_started_p99_ms"}, figures
    assert all(f["value"] > 0 and f["baseline"] > 0 for f in figures.values()), figures
    assert results["floor_ratios"] == dict.fromkeys(RATIOS), results["floor_ratios"]
    assert "floor ratios" in output and "catchup_s" not in output
