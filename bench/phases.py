"""The bench's phases, in the order they run (PHASES), and the measures
they take on the stack: webhook latency and throughput against raw SDK
starts, worker memory per ticket against the SDK's floor, idle CPU, a
single breach, a burst of deadlines in the same second against the same
burst of the floor program (bench/floor_burst.py), and catch-up after a
worker outage. Each records its figures with the baseline measured in the
same run.

The measures are in bench/measures.py, the phases in bench/load_phases.py
and bench/breach_phases.py; `Bench` is all of them."""

from __future__ import annotations

from bench.breach_phases import BreachPhases
from bench.load_phases import LoadPhases

PHASES = ["warm_up", "latency", "throughput", "memory", "single_breach", "burst", "catch_up"]


class Bench(LoadPhases, BreachPhases):
    """One bench run on a running stack: call its PHASES in order."""
