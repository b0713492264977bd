"""`python -m bench --quick` runs end to end and reports every figure.

No timing assertion: speed targets live in the bench's printed numbers,
not in tests (CI machines are loaded)."""

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
    "worker_rss_kib_per_ticket_at_60",
    "worker_rss_kib_per_ticket_at_100",
    "worker_idle_cpu_pct_at_100",
    "single_breach_lateness_s",
    "breach_lateness_p50_s",
    "breach_lateness_p99_s",
    "breach_lateness_max_s",
    "breach_all_done_s",
    "burst_cpu_ms_per_breach",
    "catchup_s",
}
PAIRED = FIGURES - {"single_breach_lateness_s"}  # the baseline the others are read against


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


async def test_quick_bench_reports_every_figure(tmp_path: Path):
    results, output = await _bench(tmp_path / "results.json", "--quick")
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
    assert figures["worker_rss_kib_per_ticket_at_100"]["baseline"] > 0  # the SDK floor per workflow
    assert "webhook_to_started_p50_ms" in output  # the table was printed
    assert set(results["floor_ratios"]) == RATIOS and all(
        v > 0 for v in results["floor_ratios"].values()
    )


async def test_small_run_writes_floor_ratios(tmp_path: Path):
    """The burst floor runs in the same invocation as ticketflow's burst, and
    the three ratios against the floors land under one key."""
    results, output = await _bench(
        tmp_path / "results.json",
        "--phases",
        "throughput,memory,burst",
        "--burst",
        "20",
        "--memory-levels",
        "200",
        "--throughput",
        "20",
        "--idle-seconds",
        "1",
    )
    ratios = results["floor_ratios"]
    assert set(ratios) == RATIOS and all(isinstance(v, float) and v > 0 for v in ratios.values()), (
        ratios
    )
    figures = results["figures"]
    for key in (
        "breach_lateness_p99_s",
        "burst_cpu_ms_per_breach",
        "worker_rss_kib_per_ticket_at_200",
    ):
        assert figures[key]["value"] > 0 and figures[key]["baseline"] > 0, figures[key]
    assert ratios["burst_p99"] == round(
        figures["breach_lateness_p99_s"]["value"] / figures["breach_lateness_p99_s"]["baseline"], 2
    )
    floor = results["raw"][
        "burst_floor"
    ]  # measured as the tickets are: every page, note and row landed
    assert floor["n"] == 20 and floor["asleep_before_deadline"] is True
    assert floor["cpu_s"]["floor_worker"] > 0 and floor["cpu_s"]["temporal"] > 0
    assert (
        0 <= results["raw"]["burst_page_before_note"] <= 20
        and results["raw"]["burst_settled_s"] > 0
    )
    assert floor["settled"] > 0
    assert "floor ratios" in output and "catchup_s" not in results["figures"]
