"""Helpers the test modules share: plain functions, constants and classes.

Fixtures live in tests/conftest.py; nothing here is a fixture, and no test
module imports from another test module."""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import gc
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from client.gateway import TemporalGateway, TemporalUnavailable
from dryrun.scenario import load_scenario
from dryrun.simulate import SimulationResult, run_scenario, terminate_ticket_tree
from engine.policy_loader import load_policy
from models import search_attributes as sa
from models.channels import ChannelMessage
from models.status import TicketStatus
from models.ticket import Contact
from models.ticket_input import TicketInput
from models.timezones import zone
from starter.signatures import sign_chatwoot
from workflows.ticket import TicketWorkflow

T = TypeVar("T")
_RETRYABLE = (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED, RPCStatusCode.UNAVAILABLE)

TESTS_DIR = Path(__file__).resolve().parent
POLICIES_DIR = TESTS_DIR.parent / "policies"
# the VIP SOP's scenario files, run by `ticketflow simulate`'s runner
SCENARIOS = TESTS_DIR / "scenarios"
CT = zone("America/Chicago")
TUESDAY_10 = datetime(2026, 11, 17, 10, tzinfo=CT)  # in Alicia's shift; Lola is her backup


# ------------------------------------------------------------------ waiting


async def eventually(
    fetch: Callable[[], Awaitable[T]], check: Callable[[T], object], timeout: float = 60.0
) -> T:
    """Poll `fetch` until `check` holds (for state a worker reaches
    asynchronously, e.g. after its first activity); not a clock for SLAs.

    A query that times out (the worker is busy on a loaded machine, or the
    ticket is between runs of a continue-as-new) is asked again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    value: T | None = None
    while True:
        try:
            value = await fetch()
            if check(value):
                return value
        except RPCError as err:
            if err.status not in _RETRYABLE or loop.time() > deadline:
                raise
        if loop.time() > deadline:
            raise AssertionError(f"condition not reached in {timeout}s; last value: {value!r}")
        await asyncio.sleep(0.05)


async def now_value(value: T) -> T:
    """`value` as an awaitable, for `eventually` over state held in this process."""
    return value


def is_idle(desc: WorkflowExecutionDescription) -> bool:
    """Nothing of the workflow's in flight: no activity scheduled, started
    or backing off before a retry, and no workflow task (a local activity
    runs inside one, and a finished activity or a fired timer schedules one)."""
    raw = desc.raw_description
    return not raw.pending_activities and not raw.HasField("pending_workflow_task")


async def settled(handle: WorkflowHandle[Any, Any], timeout: float = 60.0) -> TicketStatus:
    """Wait until every action the ticket decided has completed (retries
    included) and it waits for its next deadline or event; then its status.

    The status is queried between two idle descriptions with the same
    history length, so it is the state of that quiet ticket, not of one that
    moved on in between."""
    while True:
        before = await eventually(handle.describe, is_idle, timeout)
        status: TicketStatus = await handle.query(TicketWorkflow.status)
        after = await handle.describe()
        if is_idle(after) and _length(after) == _length(before):
            return status


def _length(desc: WorkflowExecutionDescription) -> int:
    return desc.raw_description.workflow_execution_info.history_length


class InFlight:
    """An ASGI app (a stand-in) wrapped to count the requests it is still
    answering: a call the client gave up on (a hang, a timeout) may still
    land afterwards, so a count of what a stand-in recorded is final only
    once nothing is in flight."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.count += 1
        self._idle.clear()
        try:
            await self.app(scope, receive, send)
        finally:
            self.count -= 1
            if not self.count:
                self._idle.set()

    async def idle(self, timeout: float = 60.0) -> None:
        """Return once no request is being answered (each ends after its
        fault's hang, a bounded time); fail after `timeout`."""
        await asyncio.wait_for(self._idle.wait(), timeout)


# ----------------------------------------------------------------- tickets


async def start(
    env: WorkflowEnvironment,
    task_queue: str,
    cleanup: list[str],
    policy: str = "vip-concierge",
    at: datetime = TUESDAY_10,
    **kw: Any,
) -> WorkflowHandle[TicketWorkflow, Any]:
    """A VIP ticket for Dana Whitfield opened `at` (the ticket's clock is
    offset to it), on the time-skipping server; once it has its state."""
    offset = (at - await env.get_current_time()).total_seconds()
    ticket = TicketInput(
        **{
            "account_id": 1,
            "conversation_id": int(uuid.uuid4().int % 10**6) + 1,
            "policy": policy,
            "contact": Contact(name="Dana Whitfield", vip=True),
            "clock_offset_seconds": offset,
            "created_at": at,
            **kw,
        }
    )
    wid = f"t-{uuid.uuid4().hex[:10]}"
    handle = await env.client.start_workflow(
        TicketWorkflow.run,
        ticket,
        id=wid,
        task_queue=task_queue,
        search_attributes=sa.initial_search_attributes(wid, ticket),
    )
    cleanup.append(handle.id)
    await eventually(lambda: handle.query(TicketWorkflow.status), lambda s: s.stage != "starting")
    return handle


def activity_name(fn: Callable[..., Any]) -> str:
    """The name an activity function is registered under."""
    defn = activity._Definition.from_callable(fn)
    assert defn is not None and defn.name, fn
    return defn.name


async def terminate_all(client: Client, ids: Iterable[str]) -> None:
    """Terminate these tickets and their handoffs."""
    for wid in ids:
        await terminate_ticket_tree(client, wid, "test cleanup")


async def simulate(
    name: str, ts_env: WorkflowEnvironment, pg_pool: asyncpg.Pool
) -> SimulationResult:
    """Run tests/scenarios/<name>.yaml as `ticketflow simulate` does."""
    scenario = load_scenario(SCENARIOS / f"{name}.yaml", lambda p: load_policy(p, POLICIES_DIR))
    return await run_scenario(scenario, ts_env, pg_pool, POLICIES_DIR)


# ------------------------------------------- the real activities, stood in for

AT = datetime(2026, 11, 17, 16, tzinfo=UTC)  # the activities' `at`
CONV = dict(account_id=1, conversation_id=5, at=AT)  # the seeded Chatwoot conversation
CHATWOOT_TOKEN = "cw-user-token-SECRET"


def activity_env(attempt: int = 1) -> ActivityEnvironment:
    """An activity environment whose activity runs as attempt `attempt`."""
    e = ActivityEnvironment()
    e.info = dataclasses.replace(e.info, attempt=attempt)
    return e


# ----------------------------------------------------------------- console

CONSOLE_TOKEN = "tok-alicia-0123456789abcdef"  # Alicia's operator token
FORM = {"content-type": "application/x-www-form-urlencoded"}
HX = {**FORM, "hx-request": "true"}  # a form posted by htmx


class DownGateway(TemporalGateway):
    """A gateway to a Temporal that cannot be reached."""

    async def client(self, timeout: float = 5.0) -> Client:
        raise TemporalUnavailable("cannot reach Temporal at nowhere:7233: test")


def browser(app: Any, peer: str = "127.0.0.1", raise_errors: bool = True) -> httpx.AsyncClient:
    """An HTTP client on the app, as a browser at `peer`."""
    transport = httpx.ASGITransport(
        app=app, client=(peer, 50000), raise_app_exceptions=raise_errors
    )
    return httpx.AsyncClient(transport=transport, base_url="http://console.test")


async def login(
    c: httpx.AsyncClient, token: str = CONSOLE_TOKEN, nxt: str = "/console"
) -> httpx.Response:
    return await c.post("/console/login", content=f"token={token}&next={nxt}", headers=FORM)


def directives(response: httpx.Response) -> dict[str, str]:
    """The response's Content-Security-Policy, directive by directive."""
    policy = response.headers["content-security-policy"]
    return {
        d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in (p.strip() for p in policy.split(";")) if d
    }


def assert_hardened(r: httpx.Response, framed_by: str | None = None) -> None:
    """The headers every console response carries; `framed_by`: the Dashboard App's rule."""
    where = f"{r.request.method} {r.request.url.path} -> {r.status_code}"
    assert r.headers.get("x-content-type-options") == "nosniff", where
    assert r.headers.get("referrer-policy") == "same-origin", where
    csp = directives(r)
    assert "unsafe-inline" not in r.headers["content-security-policy"], where
    assert "unsafe-eval" not in r.headers["content-security-policy"], where
    assert (
        csp["default-src"]
        == csp["script-src"]
        == csp["style-src"]
        == csp["connect-src"]
        == "'self'"
    ), where
    assert (
        csp["form-action"] == "'self'"
        and csp["object-src"] == "'none'"
        and csp["base-uri"] == "'none'"
    ), where
    if framed_by is None:
        assert csp["frame-ancestors"] == "'none'" and r.headers.get("x-frame-options") == "DENY", (
            where
        )
    else:
        assert csp["frame-ancestors"] == framed_by and "x-frame-options" not in r.headers, where
    if not r.request.url.path.startswith("/console/static/"):
        assert r.headers.get("cache-control") == "no-store", where


# ----------------------------------------------------------------- browser

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
HOW = (
    "browser tests skipped: no chromium. Install Debian's (`apt-get install -y chromium`; "
    "`.ci/run` does it when run as root) or point CHROMIUM at a Chromium binary"
)


async def choose_reason(panel: Any, reason: str, form: Any, title: str) -> None:
    """Pick an escalation reason and wait for its typed form. On a busy
    machine the change can fire before htmx has bound the freshly swapped
    panel; a person never picks that fast, so pick again rather than fail."""
    from playwright.async_api import expect

    select = panel.locator("select[name=reason]")
    for _ in range(3):
        await select.select_option(reason)
        try:
            await expect(form).to_contain_text(title, timeout=7_000)
            return
        except AssertionError:
            await panel.page.reload()  # a fresh page: htmx binds it before anyone can pick
            await expect(select).to_be_visible()
    await expect(form).to_contain_text(title)


# -------------------------------------------------------------------- misc

_used: dict[bytes, set[int]] = {}


def signed(secret: str, raw: bytes) -> dict[str, str]:
    """Chatwoot signature headers for a delivery of `raw`, each call a new
    delivery: the bridge refuses the same signed delivery twice, as a
    replay, so a resend of the same body gets a timestamp (and so a
    signature) no earlier call for that body used, the newest free second."""
    used = _used.setdefault(hashlib.sha256(raw).digest(), set())
    ts = int(time.time())
    while ts in used:
        ts -= 1
    used.add(ts)
    return sign_chatwoot(secret, raw, timestamp=ts)


def parse_sources(paths: Iterable[Path]) -> dict[Path, ast.Module]:
    """`ast.parse` project files with the garbage collector held off.

    Earlier tests leave workflow futures behind; when the collector
    finalises one mid-parse its `__del__` logs, and CPython 3.11's AST
    builder then fails with "AST constructor recursion depth mismatch".
    Collecting once first and pausing the collector for the whole batch
    keeps the parses alone (a collection per file costs seconds each late
    in a full run, when the heap is large)."""
    gc.collect()
    gc.disable()
    try:
        return {path: ast.parse(path.read_text(), str(path)) for path in paths}
    finally:
        gc.enable()


def parse_source(path: Path) -> ast.Module:
    """One file, as `parse_sources`."""
    return parse_sources([path])[path]


# ------------------------------------------------------------ slack, e-mail


def channel_message(key: str, **kw: Any) -> ChannelMessage:
    """A ticket's Slack or e-mail message as the engine would decide it."""
    base: dict[str, Any] = dict(
        key=key,
        title="Level 1 — support lead",
        text="S1 issue on conversation 7. Evidence: ticket ticket-1-7.",
        workflow_id="ticket-1-7",
        account_id=1,
        conversation_id=7,
        customer="Dana Reyes <dana@example.com>",
        clock="Response SLA 30m",
        deadline="Mon 2026-12-07 03:30 PST (UTC-08:00)",
        late="5 minutes late",
        level="3 — On-call DevOps / Engineering",
        reasons=["cant_resolve_30m", "legal"],
    )
    base.update(kw)
    return ChannelMessage(**base)


@asynccontextmanager
async def worker_and_bridge(
    settings: Any, client: Client, pg_dsn: str, http_timeout: float = 10.0
) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    """ticketflow's own worker (every activity, built as `ticketflow worker`
    builds them) and bridge, in this process, for `settings`; yields the
    bridge's URL and the worker's Postgres pool. For end-to-end stacks whose
    stand-ins the caller starts and stops."""
    from temporalio.worker import Worker

    from infra import db
    from infra.http_server import InProcessServer
    from starter.bridge import create_app
    from worker import WORKFLOWS, build_activities

    pool = await db.create_pool(pg_dsn, max_size=4)
    http = httpx.AsyncClient(timeout=httpx.Timeout(http_timeout, connect=2.0))
    bridge = await InProcessServer(create_app(settings, TemporalGateway(settings, client))).start()
    try:
        async with Worker(
            client,
            task_queue=settings.temporal_task_queue,
            workflows=WORKFLOWS,
            activities=build_activities(settings, http, pool, client),
        ):
            yield bridge.url, pool
    finally:
        await bridge.stop()
        await http.aclose()
        await pool.close()
