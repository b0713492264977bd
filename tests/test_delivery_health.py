"""Which outside system is failing: the worker's tracker fed by delivery
attempts (activities/delivery_health.py), its two gauges, and the console's
banner made from the workers' metrics (console/system_health.py), on the
board page. No worker, no Temporal, no sleeps: clocks are injected and the
workers' /metrics are an httpx MockTransport."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import delivery_metrics
from activities.delivery_health import CALLS_WAITING, FAILING_SINCE, DeliveryHealth, SystemSnapshot
from console.system_health import (
    Health,
    SystemHealth,
    SystemState,
    banner_lines,
    merge,
    parse_metrics,
)
from infra.settings import Settings
from starter.bridge import create_app
from tests.helpers import DownGateway, browser, login

T0 = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Gauge:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def set(self, value, attrs=None):
        self.values[attrs["system"]] = value


class Counter:
    def __init__(self, adds: list) -> None:
        self.adds = adds

    def add(self, value, attrs=None):
        self.adds.append(dict(attrs or {}))


class Meter:
    """Just what the tracker and the counter call."""

    def __init__(self) -> None:
        self.gauges: dict[str, Gauge] = {}
        self.adds: list[dict] = []

    def create_gauge(self, name, description=None, unit=None):
        return self.gauges.setdefault(name, Gauge())

    def create_counter(self, name, description=None, unit=None):
        return Counter(self.adds)

    def with_additional_attributes(self, attrs):
        return self


# The tracker


def test_a_failure_starts_a_failing_period_and_a_delivery_ends_it():
    clock = Clock()
    h = DeliveryHealth(clock=clock, tick=None)
    h.failed("chatwoot", "wf-1/run/1")
    clock.now += 30
    h.failed("chatwoot", "wf-2/run/1")  # another call failing: still failing since the first
    clock.now += 30
    h.failed("chatwoot", "wf-1/run/1")  # the same call retried: still one call
    snap = h.snapshot()
    assert snap["chatwoot"].failing_since == T0 and snap["chatwoot"].waiting == 2
    assert snap["pagerduty"].failing_since is None and snap["pagerduty"].waiting == 0

    h.delivered("chatwoot", "wf-1/run/1")
    snap = h.snapshot()
    assert snap["chatwoot"].failing_since is None  # a delivery: Chatwoot answers again
    assert snap["chatwoot"].waiting == 1  # wf-2's call has not been retried yet
    clock.now += 10
    h.failed("chatwoot", "wf-2/run/1")
    assert h.snapshot()["chatwoot"].failing_since == clock.now  # a new failing period
    h.delivered("chatwoot", "wf-2/run/1")
    assert h.snapshot()["chatwoot"].waiting == 0


def test_refusals_for_good_and_last_attempts_do_not_wait():
    clock = Clock()
    h = DeliveryHealth(clock=clock, tick=None)
    h.failed("pagerduty", "a")
    h.refused("pagerduty", "a")  # a 4xx: the call ends, PagerDuty answered
    h.failed("pagerduty", "b", retried=False)  # the retry policy's last attempt
    snap = h.snapshot()["pagerduty"]
    assert snap.waiting == 0 and snap.failing_since == T0


def test_calls_not_retried_for_20_minutes_are_dropped():
    clock = Clock()
    h = DeliveryHealth(clock=clock, tick=None)
    h.failed("postgres", "old")
    clock.now += 15 * 60
    h.failed("postgres", "recent")
    clock.now += 5 * 60  # "old" last failed 20 minutes ago
    snap = h.snapshot()["postgres"]
    assert snap.waiting == 1 and snap.failing_since == T0
    clock.now += 15 * 60  # nothing tried for 20 minutes: nothing known either way
    snap = h.snapshot()["postgres"]
    assert snap.waiting == 0 and snap.failing_since is None


def test_the_gauges_follow_every_change_and_the_passing_time():
    clock = Clock()
    h = DeliveryHealth(clock=clock, tick=None)
    meter = Meter()
    h.bind(meter)  # a stand-in for the runtime's meter
    since, waiting = meter.gauges[FAILING_SINCE], meter.gauges[CALLS_WAITING]
    assert since.values == {"chatwoot": 0, "pagerduty": 0, "postgres": 0}  # exist before trouble
    h.failed("chatwoot", "k")
    assert since.values["chatwoot"] == int(T0) and waiting.values["chatwoot"] == 1
    clock.now += 21 * 60
    h.export()  # what the refresh task does once a tick
    assert since.values["chatwoot"] == 0 and waiting.values["chatwoot"] == 0
    h.failed("chatwoot", "k")
    h.delivered("chatwoot", "k")
    assert since.values["chatwoot"] == 0 and waiting.values["chatwoot"] == 0


async def test_while_anything_fails_a_task_keeps_the_gauges_true():
    clock = Clock()
    h = DeliveryHealth(clock=clock, tick=0)  # each refresh at the next turn of the loop
    meter = Meter()
    h.bind(meter)
    h.failed("chatwoot", "k")
    task = h._refresher
    assert task is not None and not task.done()
    clock.now += 21 * 60  # no attempt since: the call has given up
    await asyncio.wait_for(task, 5)  # ends once nothing fails or waits
    assert meter.gauges[CALLS_WAITING].values["chatwoot"] == 0
    assert meter.gauges[FAILING_SINCE].values["chatwoot"] == 0


async def test_attempts_report_to_the_tracker_with_the_activity_call_as_key(monkeypatch):
    clock = Clock()
    health = DeliveryHealth(clock=clock, tick=None)
    monkeypatch.setattr(delivery_metrics, "HEALTH", health)
    env = ActivityEnvironment()
    meter = Meter()
    env.metric_meter = meter

    async def call(exc: BaseException | None, system: str = "chatwoot") -> None:
        async with delivery_metrics.attempt(system, "POST"):
            if exc is not None:
                raise exc

    async def run(exc: BaseException | None, system: str = "chatwoot") -> None:
        with pytest.raises(type(exc)) if exc else contextlib.nullcontext():
            await env.run(call, exc, system)

    await run(ApplicationError("Chatwoot POST -> 503", type="ChatwootUnavailable"))
    cw = health.snapshot()["chatwoot"]
    assert cw.failing_since == T0 and cw.waiting == 1  # keyed by the activity call
    await run(None)
    assert health.snapshot()["chatwoot"].failing_since is None
    assert health.snapshot()["chatwoot"].waiting == 0
    # A refusal for good (4xx, a rejected row): no failing period.
    await run(ApplicationError("404", type="ChatwootNotFound", non_retryable=True))
    assert health.snapshot()["chatwoot"].failing_since is None
    # The retry policy's last attempt: failing, but nobody waits on it any more.
    env.info = dataclasses.replace(
        env.info, attempt=3, retry_policy=RetryPolicy(maximum_attempts=3)
    )
    await run(ApplicationError("timeout", type="PagerDutyTimeout"), "pagerduty")
    pd = health.snapshot()["pagerduty"]
    assert pd.failing_since == T0 and pd.waiting == 0
    outcomes = [(a["system"], a["outcome"]) for a in meter.adds]
    assert outcomes == [
        ("chatwoot", "failed"),
        ("chatwoot", "delivered"),
        ("chatwoot", "failed"),
        ("pagerduty", "failed"),
    ]  # the attempts counter is kept as it was


async def test_an_attempt_inside_an_attempt_on_the_same_system_counts_once(monkeypatch):
    health = DeliveryHealth(clock=Clock(), tick=None)
    monkeypatch.setattr(delivery_metrics, "HEALTH", health)
    env = ActivityEnvironment()
    meter = Meter()
    env.metric_meter = meter

    async def batch() -> None:
        async with delivery_metrics.attempt("postgres", "audit.record_batch"):
            try:
                async with delivery_metrics.attempt("postgres", "audit.decision_log"):
                    raise ValueError("a bad row, reported in its outcome")
            except ValueError:
                pass

    await env.run(batch)
    assert [(a["action"], a["outcome"]) for a in meter.adds] == [
        ("audit.record_batch", "delivered")
    ]
    assert health.snapshot()["postgres"].failing_since is None


class Pool:
    """An asyncpg pool whose `execute` raises `exc`, or reports one row inserted."""

    def __init__(self, exc: BaseException | None = None) -> None:
        self.exc = exc

    async def execute(self, *args, **kwargs):
        if self.exc is not None:
            raise self.exc
        return "INSERT 0 1"


async def test_audit_activities_are_postgres_attempts(monkeypatch):
    from activities.audit import AuditActivities
    from activities.audit_batch import AuditBatchActivities
    from activities.errors import DATA_ERROR_TYPE
    from models.audit import TicketEventRow

    for fn in (AuditActivities.record_ticket_event, AuditBatchActivities.record_batch):
        assert hasattr(fn, "__temporal_activity_definition")  # still activities for the worker
    health = DeliveryHealth(clock=Clock(), tick=None)
    monkeypatch.setattr(delivery_metrics, "HEALTH", health)
    env = ActivityEnvironment()
    meter = Meter()
    env.metric_meter = meter
    row = TicketEventRow(
        idempotency_key="k",
        workflow_id="w",
        account_id=1,
        conversation_id=2,
        policy="p",
        action="a",
        at=datetime.now(UTC),
    )

    # Postgres down: failing, and the call waits.
    with pytest.raises(ConnectionRefusedError):
        await env.run(AuditActivities(Pool(ConnectionRefusedError())).record_ticket_event, row)
    assert health.snapshot()["postgres"] == SystemSnapshot(failing_since=T0, waiting=1)
    # A row Postgres rejects: still final (the data-error rule runs inside), and it
    # is Postgres answering, not failing.
    bad = asyncpg.exceptions.NumericValueOutOfRangeError("value out of range")
    with pytest.raises(ApplicationError) as err:
        await env.run(AuditActivities(Pool(bad)).record_ticket_event, row)
    assert err.value.type == DATA_ERROR_TYPE and err.value.non_retryable
    assert health.snapshot()["postgres"] == SystemSnapshot(failing_since=T0, waiting=0)
    assert (await env.run(AuditActivities(Pool()).record_ticket_event, row)).inserted
    assert health.snapshot()["postgres"] == SystemSnapshot(failing_since=None, waiting=0)
    assert [(a["system"], a["action"], a["outcome"]) for a in meter.adds] == [
        ("postgres", "audit.record_ticket_event", "failed"),
        ("postgres", "audit.record_ticket_event", "failed"),
        ("postgres", "audit.record_ticket_event", "delivered"),
    ]


# The console: metrics text, merge, wording

WORKER_A = f"""# HELP temporal_request Temporal requests
# TYPE temporal_request counter
temporal_request{{namespace="default",operation="PollActivityTaskQueue"}} 12
# HELP ticketflow_system_calls_waiting Calls to the system whose last attempt failed
# TYPE ticketflow_system_calls_waiting gauge
ticketflow_system_calls_waiting{{service_name="core",system="chatwoot"}} 30
ticketflow_system_calls_waiting{{service_name="core",system="pagerduty"}} 0
ticketflow_system_calls_waiting{{service_name="core",system="postgres"}} 0
# HELP ticketflow_system_failing_since_timestamp_seconds Unix time of the first failed attempt
# TYPE ticketflow_system_failing_since_timestamp_seconds gauge
ticketflow_system_failing_since_timestamp_seconds{{service_name="core",system="chatwoot"}} {int(T0)}
ticketflow_system_failing_since_timestamp_seconds{{service_name="core",system="pagerduty"}} 0
ticketflow_system_failing_since_timestamp_seconds{{service_name="core",system="postgres"}} 0
"""
WORKER_B = f"""# TYPE ticketflow_system_calls_waiting gauge
ticketflow_system_calls_waiting{{system="chatwoot"}} 7
ticketflow_system_calls_waiting{{system="pagerduty"}} 3
# TYPE ticketflow_system_failing_since_timestamp_seconds gauge
ticketflow_system_failing_since_timestamp_seconds{{system="chatwoot"}} {int(T0) - 120}
ticketflow_system_failing_since_timestamp_seconds{{system="pagerduty"}} {int(T0) + 60}
"""
HEALTHY = """# TYPE ticketflow_system_calls_waiting gauge
ticketflow_system_calls_waiting{system="chatwoot"} 0
# TYPE ticketflow_system_failing_since_timestamp_seconds gauge
ticketflow_system_failing_since_timestamp_seconds{system="chatwoot"} 0
"""


def test_metrics_text_is_read_and_merged_across_workers():
    a = parse_metrics(WORKER_A)
    assert a["chatwoot"] == SystemState(failing_since=T0, waiting=30)
    assert a["pagerduty"] == SystemState(failing_since=None, waiting=0)
    b = parse_metrics(WORKER_B)
    merged = merge([a, b])
    assert merged["chatwoot"] == SystemState(failing_since=T0 - 120, waiting=37)  # earliest, sum
    assert merged["pagerduty"] == SystemState(failing_since=T0 + 60, waiting=3)
    assert parse_metrics("") == {} and parse_metrics(HEALTHY)["chatwoot"].failing_since is None


def test_banner_wording():
    now = T0 + 4 * 60
    chatwoot_down = Health(
        systems={
            "chatwoot": SystemState(failing_since=T0, waiting=37),
            "pagerduty": SystemState(failing_since=None, waiting=0),
        }
    )
    assert banner_lines(chatwoot_down, now) == [
        "Chatwoot unreachable for 4 min: 37 calls waiting — pages unaffected"
    ]
    both = Health(
        systems={
            "chatwoot": SystemState(failing_since=T0, waiting=1),
            "pagerduty": SystemState(failing_since=T0 + 120, waiting=3),
        }
    )
    assert banner_lines(both, now) == [
        "PagerDuty failing for 2 min: 3 pages waiting",
        "Chatwoot unreachable for 4 min: 1 call waiting",  # pages are affected
    ]
    assert banner_lines(Health(systems={"chatwoot": SystemState(None, 0)}), now) == []
    assert banner_lines(Health(), now) == []
    # A silent worker: its PagerDuty is unknown, so no "pages unaffected".
    partial = Health(systems=chatwoot_down.systems, unavailable=["http://w2:9464/metrics (x)"])
    assert banner_lines(partial, now) == [
        "Chatwoot unreachable for 4 min: 37 calls waiting",
        "worker metrics unavailable: http://w2:9464/metrics (x)",
    ]


def serving(texts: dict[str, str], calls: list[str] | None = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if calls is not None:
            calls.append(str(request.url))
        host = request.url.host
        if host not in texts:
            raise httpx.ConnectError("connection refused", request=request)
        assert request.url.path == "/metrics"
        return httpx.Response(200, text=texts[host])

    return httpx.MockTransport(handle)


async def test_workers_are_asked_at_most_once_per_ttl() -> None:
    calls: list[str] = []
    mono = Clock(0)
    health = SystemHealth(
        ["http://w1:9464/", "http://w2:9464"],
        transport=serving({"w1": WORKER_A, "w2": WORKER_B}, calls),
        clock=Clock(T0 + 3 * 60),
        monotonic=mono,
    )
    first = await health.banners()
    assert first == [
        "PagerDuty failing for 2 min: 3 pages waiting",
        "Chatwoot unreachable for 5 min: 37 calls waiting",
    ]
    assert sorted(calls) == ["http://w1:9464/metrics", "http://w2:9464/metrics"]
    mono.now += 4
    assert await health.banners() == first and len(calls) == 2
    mono.now += 2
    await health.banners()
    assert len(calls) == 4


async def test_a_worker_that_does_not_answer_is_shown():
    health = SystemHealth(
        ["http://w1:9464", "http://gone:9464"],
        transport=serving({"w1": HEALTHY}),
        clock=Clock(T0),
    )
    lines = await health.banners()
    assert lines == ["worker metrics unavailable: http://gone:9464/metrics (ConnectError)"]


async def test_a_worker_that_hangs_is_given_up_after_the_timeout():
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()  # never answers; the timeout ends it
        raise AssertionError

    class Hanging(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return await hang(request)

    health = SystemHealth(["http://slow:9464"], transport=Hanging(), timeout=0.05)
    assert await health.banners() == [
        "worker metrics unavailable: http://slow:9464/metrics (no answer within 0.05 s)"
    ]


async def test_no_urls_no_banner_and_no_fetch() -> None:
    calls: list[str] = []
    assert await SystemHealth([], transport=serving({}, calls)).banners() == []
    assert calls == []


# The board page


def console_app(health: SystemHealth | None = None, urls: str | None = None):
    settings = Settings(
        _env_file=None,
        webhook_token=SecretStr("x" * 20),
        temporal_address="nowhere:7233",
        console_operators=SecretStr('{"tok-alicia-0123456789abcdef": "alicia"}'),
        worker_metrics_urls=urls,
    )
    app = create_app(settings, DownGateway(settings), dev_mode=False)
    if health is not None:
        app.state.system_health = health
    return app


async def board_html(app) -> str:
    async with browser(app) as c:
        await login(c)
        r = await c.get("/console")
        assert r.status_code == 200
        assert "unsafe-inline" not in r.headers["content-security-policy"]
        return r.text


async def test_the_board_shows_a_failing_system_and_nothing_when_healthy():
    failing = SystemHealth(
        ["http://w1:9464"],
        transport=serving({"w1": WORKER_A}),
        clock=Clock(T0 + 4 * 60),
    )
    html = await board_html(console_app(failing))
    assert 'class="system-health"' in html
    assert "Chatwoot unreachable for 4 min: 30 calls waiting — pages unaffected" in html
    assert "cannot reach Temporal" in html  # the banner does not need Temporal

    healthy = SystemHealth(["http://w1:9464"], transport=serving({"w1": HEALTHY}))
    html = await board_html(console_app(healthy))
    assert "system-health" not in html and "unreachable" not in html


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_the_board_reads_worker_metrics_urls():
    # A real fetch, to a loopback port nobody listens on: refused at once.
    url = f"http://127.0.0.1:{closed_port()}"
    app = console_app(urls=f" {url}/ ")
    assert app.state.console.settings.worker_metrics_url_list == (url,)
    html = await board_html(app)
    assert f"worker metrics unavailable: {url}/metrics (ConnectError)" in html
    source = app.state.system_health
    assert isinstance(source, SystemHealth) and source.urls == [url]


def test_worker_metrics_urls_must_be_http_urls():
    from infra.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="WORKER_METRICS_URLS"):
        load_settings(_env_file=None, worker_metrics_urls="w1:9464")
    assert load_settings(_env_file=None, worker_metrics_urls="").worker_metrics_url_list == ()
