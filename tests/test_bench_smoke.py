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
    "webhook_to_started_p50_ms", "webhook_to_started_p99_ms", "bridge_throughput_per_s", "tickets_opened_per_s",
    "worker_rss_kib_per_ticket_at_60", "worker_rss_kib_per_ticket_at_100", "worker_idle_cpu_pct_at_100",
    "single_breach_lateness_s", "breach_lateness_p50_s", "breach_lateness_p99_s", "breach_lateness_max_s",
    "breach_all_done_s", "catchup_s",
}
PAIRED = FIGURES - {"single_breach_lateness_s"}  # the baseline the others are read against


async def test_quick_bench_reports_every_figure(tmp_path: Path):
    out = tmp_path / "results.json"
    root = Path(__file__).resolve().parent.parent
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench", "--quick", "--output", str(out),
                                                cwd=str(root), stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(proc.communicate(), 900)
    assert proc.returncode == 0, output.decode()[-3000:]
    results = json.loads(out.read_text())
    figures = results["figures"]
    assert set(figures) == FIGURES
    assert all(f["value"] is not None for f in figures.values()), figures
    assert all(figures[k]["baseline"] is not None for k in PAIRED), figures
    assert results["machine"]["nproc"] >= 1 and results["load_before"] and results["load_after"]
    assert results["raw"]["catchup_deadline_inside_outage"] is True
    stages = results["raw"]["burst_stages_s"]  # where the burst's lateness went, from sampled histories
    assert {"timer_fired", "decision_started", "decision_completed", "page_completed"} <= set(stages)
    assert stages["timer_fired"]["p50"] <= stages["decision_started"]["p50"] <= stages["page_completed"]["p50"]
    cpu = results["raw"]["burst_cpu_s"]  # where the machine's CPU went during the burst
    assert {"temporal", "worker", "bridge", "bench_and_sandboxes", "postgres", "machine_idle", "wall"} <= set(cpu)
    assert cpu["worker"] > 0 and cpu["temporal"] > 0 and cpu["wall"] > 0
    assert figures["worker_rss_kib_per_ticket_at_100"]["baseline"] > 0  # the SDK floor per workflow
    assert "webhook_to_started_p50_ms" in output.decode()  # the table was printed
