"""CPU seconds per role of the stack, sampled in a thread while a phase runs,
so a window can be closed afterwards at an instant read from the histories
(when the last workflow task of the burst completed) instead of when the
bench happened to notice it.

A sample reads /proc for a fixed set of processes (the stack's roles and the
`postgres` processes alive when sampling starts) and the machine's idle
time: well under a millisecond, five times a second."""

from __future__ import annotations

import bisect
import threading
import time

import psutil


def cpu_of(proc: psutil.Process) -> float:
    """User + system CPU seconds of `proc` (0 once it is gone)."""
    try:
        t = proc.cpu_times()
        return t.user + t.system
    except psutil.Error:
        return 0.0


class CpuSeries:
    def __init__(self, pids_by_role: dict[str, list[int]], period: float = 0.2) -> None:
        self._procs = {
            role: [psutil.Process(pid) for pid in pids] for role, pids in pids_by_role.items()
        }
        self._procs["postgres"] = [
            p
            for p in psutil.process_iter(["name"])
            if (p.info["name"] or "").startswith("postgres")
        ]
        self._period = period
        self._times: list[float] = []
        self._samples: list[dict[str, float]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-cpu", daemon=True)

    def _sample(self) -> None:
        now = time.time()
        sample = {role: sum(cpu_of(p) for p in procs) for role, procs in self._procs.items()}
        sample["machine_idle"] = psutil.cpu_times().idle
        with self._lock:
            self._times.append(now)
            self._samples.append(sample)

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            self._sample()

    def start(self) -> CpuSeries:
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def started(self) -> float:
        return self._times[0]

    def at(self, t: float) -> dict[str, float]:
        """Each role's CPU seconds at `t`, interpolated between the samples around it."""
        with self._lock:
            return self._at(t)

    def _at(self, t: float) -> dict[str, float]:
        i = bisect.bisect_left(self._times, t)
        if i <= 0:
            return dict(self._samples[0])
        if i >= len(self._times):
            return dict(self._samples[-1])
        t0, t1 = self._times[i - 1], self._times[i]
        s0, s1 = self._samples[i - 1], self._samples[i]
        f = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
        return {k: s0[k] + f * (s1[k] - s0[k]) for k in s0}

    def window(self, t0: float, t1: float) -> dict[str, float]:
        """CPU seconds each role used between `t0` and `t1`, and the wall time."""
        a, b = self.at(t0), self.at(t1)
        return {k: round(b[k] - a[k], 2) for k in a} | {"wall": round(t1 - t0, 2)}

    def rate(self, role: str, seconds: float) -> float:
        """`role`'s CPU over the last `seconds` sampled, in cores."""
        with self._lock:
            if len(self._times) < 2:
                return 1.0
            t1 = self._times[-1]
            t0 = max(self._times[0], t1 - seconds)
            if t1 <= t0:
                return 1.0
            return (self._at(t1)[role] - self._at(t0)[role]) / (t1 - t0)
