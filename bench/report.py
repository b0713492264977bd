"""What a bench run writes down besides its figures: the percentile it
reads them with, the machine and its load (these 2-core machines are noisy,
so every result says where and when it was measured), and the table printed
at the end. Apart from the phases, so the report can be read and changed
without the measuring code."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    xs = sorted(values)
    k = min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))
    return xs[k]


def pct_of(values: list[float], p: float) -> float:
    """`pct` of samples there is at least one of."""
    value = pct(values, p)
    if value is None:
        raise ValueError("a percentile of no samples")
    return value


def machine() -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "commit": commit,
    }


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def floor_ratios(figures: dict) -> dict[str, float | None]:
    """Ticketflow over its floor measured in the same run (None: that phase
    did not run): burst p99 lateness and CPU per breach against the floor
    program's burst (bench/floor_burst.py), worker RSS per open ticket at the
    highest level against the SDK floor workflow (bench/floor_workflow.py)."""

    def ratio(key: str | None) -> float | None:
        f = figures.get(key) if key else None
        if not f or f["value"] is None or not f["baseline"]:
            return None
        return round(f["value"] / f["baseline"], 2)

    rss = max(
        (k for k in figures if k.startswith("worker_rss_kib_per_ticket_at_")),
        key=lambda k: int(k.rsplit("_", 1)[1]),
        default=None,
    )
    return {
        "burst_p99": ratio("breach_lateness_p99_s"),
        "cpu_per_breach": ratio("burst_cpu_ms_per_breach"),
        "rss_per_ticket": ratio(rss),
    }


def print_table(results: dict) -> None:
    rows = [("figure", "value", "baseline (same run)", "target")]
    for key, f in results["figures"].items():
        value = "-" if f["value"] is None else f"{f['value']:.2f} {f['unit']}"
        base = "-" if f["baseline"] is None else f"{f['baseline']:.2f} ({f['baseline_label']})"
        rows.append((key, value, base, f["target"]))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    ratios = ", ".join(
        f"{k} {'-' if v is None else f'{v:.2f}x'}" for k, v in results["floor_ratios"].items()
    )
    print(f"\nfloor ratios (ticketflow / floor, same run): {ratios}")
    m = results["machine"]
    print(
        f"\nmachine: {m['nproc']} x {m['cpu']}; load before: {results['load_before']}; "
        f"after: {results['load_after']}"
    )
