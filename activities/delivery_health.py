"""Which outside systems are failing right now, as the worker sees them.

`attempt(system, action)` (activities/delivery_metrics.py) reports every
delivery attempt here. Per system the tracker keeps:

- `failing_since`: the instant of the first failed attempt after the last
  delivered one; a delivery clears it;
- the calls waiting: distinct calls (workflow, run and activity id) whose
  last attempt failed and that Temporal will retry. A delivery, a refusal
  for good (a non-retryable error: the system answered) or the last attempt
  of the retry policy takes a call off the list.

Nothing is known about a call not retried for `STALE_AFTER` (20 minutes: its
activity has given up by then), so it is dropped; when a system's last
failure is that old, its failing period ends too (no evidence left either
way).

The state is exported through the worker's runtime metric meter (its
Prometheus endpoint, WORKER_METRICS_ADDRESS), one series per system, with
no activity attributes (a gauge per activity type would keep stale values):

- `ticketflow_system_failing_since_timestamp_seconds{system}`: unix time of
  `failing_since`, 0 when healthy (a timestamp, so it stays true as time
  passes without being set again);
- `ticketflow_system_calls_waiting{system}`.

The gauges are set on every change and, while anything is failing or
waiting, once a `tick` (so entries going stale show without any attempt).
The operator console reads them (console/system_health.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from temporalio import activity
from temporalio.common import MetricGauge, MetricMeter, RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.runtime import Runtime

FAILING_SINCE = "ticketflow_system_failing_since_timestamp_seconds"
CALLS_WAITING = "ticketflow_system_calls_waiting"
# Exported (as healthy) from the first attempt on, so each series exists before any failure.
SYSTEMS = ("chatwoot", "pagerduty", "postgres")
STALE_AFTER = 20 * 60.0  # seconds: no activity of ticketflow retries a call for longer
TICK = 60.0  # seconds between refreshes of the gauges while something is failing or waiting


@dataclass
class _System:
    failing_since: float | None = None
    last_failure: float | None = None
    waiting: dict[str, float] = field(default_factory=dict)  # call key -> its last failure


@dataclass(frozen=True)
class SystemSnapshot:
    """One system's state at an instant (unix seconds)."""

    failing_since: float | None
    waiting: int


def call_key() -> str | None:
    """The activity call being attempted (stable across its retries), else None."""
    try:
        info = activity.info()
    except RuntimeError:  # not inside an activity (a direct call in a test)
        return None
    return f"{info.workflow_id or ''}/{info.workflow_run_id or ''}/{info.activity_id}"


def refused_for_good(exc: BaseException) -> bool:
    """The system answered and retrying cannot change the answer (a 4xx, a row
    Postgres rejects, a missing setting): evidence of neither failure nor health."""
    if isinstance(exc, ApplicationError) and exc.non_retryable:
        return True
    policy = _retry_policy()
    return (
        isinstance(exc, ApplicationError)
        and policy is not None
        and exc.type in (policy.non_retryable_error_types or ())
    )


def will_retry() -> bool:
    """False on the retry policy's last attempt (the call gives up after it)."""
    try:
        info = activity.info()
    except RuntimeError:
        return True
    policy = info.retry_policy
    return not (policy and policy.maximum_attempts and info.attempt >= policy.maximum_attempts)


def _retry_policy() -> RetryPolicy | None:
    try:
        return activity.info().retry_policy
    except RuntimeError:
        return None


def runtime_meter() -> MetricMeter | None:
    """The worker runtime's meter (no activity attributes), inside an activity."""
    try:
        runtime = activity.client().service_client.config.runtime
    except RuntimeError:  # not in an activity, or one without a client (ActivityEnvironment)
        return None
    return (runtime or Runtime.default()).metric_meter


class DeliveryHealth:
    """The process-wide state (`HEALTH`); tests make their own with a clock."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        stale_after: float = STALE_AFTER,
        tick: float | None = TICK,
    ) -> None:
        self.clock = clock
        self.stale_after = stale_after
        self.tick = tick  # None: no refresh task (tests call `export` themselves)
        self._systems: dict[str, _System] = {s: _System() for s in SYSTEMS}
        self._meter: MetricMeter | None = None
        self._gauges: tuple[MetricGauge, MetricGauge] | None = None
        self._refresher: asyncio.Task[None] | None = None

    # What attempts report.

    def failed(self, system: str, key: str | None, *, retried: bool = True) -> None:
        now = self.clock()
        s = self._systems.setdefault(system, _System())
        if s.failing_since is None:
            s.failing_since = now
        s.last_failure = now
        if key is not None:
            if retried:
                s.waiting[key] = now
            else:
                s.waiting.pop(key, None)
        self._changed()

    def delivered(self, system: str, key: str | None) -> None:
        s = self._systems.setdefault(system, _System())
        s.failing_since = None
        if key is not None:
            s.waiting.pop(key, None)
        self._changed()

    def refused(self, system: str, key: str | None) -> None:
        """The call ended with an answer for good: no longer waiting, no verdict."""
        s = self._systems.setdefault(system, _System())
        if key is not None and s.waiting.pop(key, None) is not None:
            self._changed()

    # What is read.

    def snapshot(self) -> dict[str, SystemSnapshot]:
        """Every system's state now, stale entries dropped first."""
        self._prune()
        return {
            name: SystemSnapshot(failing_since=s.failing_since, waiting=len(s.waiting))
            for name, s in self._systems.items()
        }

    def _prune(self) -> None:
        cutoff = self.clock() - self.stale_after
        for s in self._systems.values():
            for key in [k for k, at in s.waiting.items() if at <= cutoff]:
                del s.waiting[key]
            if s.last_failure is not None and s.last_failure <= cutoff:
                s.failing_since = None
                s.last_failure = None

    def _active(self) -> bool:
        return any(s.failing_since is not None or s.waiting for s in self._systems.values())

    # Export.

    def bind(self, meter: MetricMeter | None) -> None:
        """Export through `meter` (the worker runtime's) from now on."""
        if meter is None or meter is self._meter:
            return
        self._meter = meter
        self._gauges = (
            meter.create_gauge(
                FAILING_SINCE,
                "Unix time of the first failed attempt to the system since its last delivery; "
                "0 when healthy",
                "s",
            ),
            meter.create_gauge(
                CALLS_WAITING,
                "Calls to the system whose last attempt failed and that will be retried",
            ),
        )
        self.export()

    def export(self) -> None:
        """Set both gauges for every system (no-op before `bind`)."""
        if self._gauges is None:
            return
        since, waiting = self._gauges
        for name, h in self.snapshot().items():
            attrs = {"system": name}
            since.set(int(h.failing_since) if h.failing_since is not None else 0, attrs)
            waiting.set(h.waiting, attrs)

    def _changed(self) -> None:
        self.export()
        if self.tick is None or self._gauges is None or not self._active():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = self._refresher
        if task is None or task.done() or task.get_loop() is not loop:
            # A fresh context: the task outlives the activity that started it.
            self._refresher = loop.create_task(self._refresh(), context=contextvars.Context())

    async def _refresh(self) -> None:
        assert self.tick is not None
        while True:
            await asyncio.sleep(self.tick)
            self.export()
            if not self._active():
                return


HEALTH = DeliveryHealth()
