"""The board's banner: which outside system is failing, from the workers' metrics.

Each worker exports, per system (`chatwoot`, `pagerduty`, `postgres`), when
its current failing period began and how many calls wait on a retry
(activities/delivery_health.py). The console fetches `/metrics` from every
WORKER_METRICS_URLS base URL (1 s each, all at once), merges them (the
earliest failing start, the waiting calls summed) and words one line per
failing system:

    Chatwoot unreachable for 4 min: 37 calls waiting — pages unaffected
    PagerDuty failing for 2 min: 3 pages waiting

"pages unaffected" only when PagerDuty is known healthy on every worker. A
worker that does not answer is a line of its own ("worker metrics
unavailable"). The result is kept for `TTL` seconds, so a board polled by
many operators costs the workers one scrape each per `TTL`. No line when all
is well, or when no URL is set.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx
import structlog
from prometheus_client.parser import text_string_to_metric_families

log = structlog.get_logger(__name__)

FAILING_SINCE = "ticketflow_system_failing_since_timestamp_seconds"
CALLS_WAITING = "ticketflow_system_calls_waiting"
TIMEOUT = 1.0  # seconds for one worker's /metrics, connection included
TTL = 5.0  # seconds a fetched state is shown before the workers are asked again

# How each system's failure is worded, in the order the lines are shown (pages first).
_WORDING = {
    "pagerduty": ("PagerDuty", "failing", "page"),
    "chatwoot": ("Chatwoot", "unreachable", "call"),
    "postgres": ("Postgres", "unreachable", "call"),
}


@dataclass(frozen=True)
class SystemState:
    failing_since: float | None  # unix seconds; None: healthy
    waiting: int = 0


@dataclass(frozen=True)
class Health:
    systems: Mapping[str, SystemState] = field(default_factory=dict)
    unavailable: Sequence[str] = ()  # one reason per worker that did not answer


class HealthSource(Protocol):
    """What the board reads (a fake in tests)."""

    async def banners(self) -> list[str]: ...


def parse_metrics(text: str) -> dict[str, SystemState]:
    """The two gauges of one worker's metrics text, by system (other metrics ignored)."""
    # Only our families' lines: the SDK's hundreds of others are not parsed at all.
    ours = "\n".join(line for line in text.splitlines() if "ticketflow_system_" in line)
    since: dict[str, float] = {}
    waiting: dict[str, int] = {}
    for family in text_string_to_metric_families(ours + "\n"):
        for sample in family.samples:
            system = sample.labels.get("system")
            if not system:
                continue
            if sample.name == FAILING_SINCE and sample.value > 0:
                since[system] = min(since.get(system, sample.value), sample.value)
            elif sample.name == CALLS_WAITING:
                waiting[system] = waiting.get(system, 0) + int(sample.value)
    return {
        s: SystemState(failing_since=since.get(s), waiting=waiting.get(s, 0))
        for s in {*since, *waiting}
    }


def merge(workers: Iterable[Mapping[str, SystemState]]) -> dict[str, SystemState]:
    """All workers' states: a system fails since its earliest start on any, waits the sum."""
    out: dict[str, SystemState] = {}
    for states in workers:
        for system, st in states.items():
            prev = out.get(system, SystemState(None, 0))
            starts = [t for t in (prev.failing_since, st.failing_since) if t is not None]
            out[system] = SystemState(
                failing_since=min(starts) if starts else None, waiting=prev.waiting + st.waiting
            )
    return out


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def banner_lines(health: Health, now: float) -> list[str]:
    """One line per failing system (pages first), then one per silent worker."""
    pagerduty = health.systems.get("pagerduty")
    pages_ok = not health.unavailable and (pagerduty is None or pagerduty.failing_since is None)
    lines = []
    names = [*_WORDING, *sorted(set(health.systems) - set(_WORDING))]
    for system in names:
        st = health.systems.get(system)
        if st is None or st.failing_since is None:
            continue
        name, verb, unit = _WORDING.get(system, (system, "failing", "call"))
        line = (
            f"{name} {verb} for {_duration(now - st.failing_since)}: "
            f"{st.waiting} {unit}{'' if st.waiting == 1 else 's'} waiting"
        )
        if system != "pagerduty" and pages_ok:
            line += " — pages unaffected"
        lines.append(line)
    lines += [f"worker metrics unavailable: {why}" for why in health.unavailable]
    return lines


class SystemHealth:
    """The workers' metrics, fetched at most once a `ttl`, as banner lines."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = TIMEOUT,
        ttl: float = TTL,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.urls = [u.rstrip("/") for u in urls]
        self.transport = transport  # tests: an httpx.MockTransport
        self.timeout = timeout
        self.ttl = ttl
        self.clock = clock
        self.monotonic = monotonic
        self._cached: tuple[float, Health] | None = None
        self._lock = asyncio.Lock()

    async def banners(self) -> list[str]:
        if not self.urls:
            return []
        return banner_lines(await self.health(), self.clock())

    async def health(self) -> Health:
        async with self._lock:  # one fetch for every board asking at the same time
            if self._cached is not None and self.monotonic() - self._cached[0] < self.ttl:
                return self._cached[1]
            health = await self._fetch()
            self._cached = (self.monotonic(), health)
            return health

    async def _fetch(self) -> Health:
        async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout) as http:
            results = await asyncio.gather(*(self._one(http, u) for u in self.urls))
        states = [r for r in results if isinstance(r, dict)]
        return Health(systems=merge(states), unavailable=[r for r in results if isinstance(r, str)])

    async def _one(self, http: httpx.AsyncClient, base: str) -> dict[str, SystemState] | str:
        """One worker's states, or why it gave none."""
        url = f"{base}/metrics"
        try:
            async with asyncio.timeout(self.timeout):  # the whole exchange, not each read
                resp = await http.get(url)
            resp.raise_for_status()
            return parse_metrics(resp.text)
        except TimeoutError:
            why = f"no answer within {self.timeout:g} s"
        except httpx.HTTPStatusError as exc:
            why = f"HTTP {exc.response.status_code}"
        except httpx.HTTPError as exc:
            why = type(exc).__name__
        except ValueError as exc:  # not Prometheus text
            why = f"unreadable ({exc})"[:120]
        log.info("console: worker metrics unavailable", url=url, why=why)
        return f"{url} ({why})"
