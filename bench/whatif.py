"""`python -m bench.whatif [--tickets 10000]`: how long `ticketflow whatif`
takes over a month of recorded tickets (the target: 10,000 in under 60 s
on these 2-core machines).

The tickets are made the way the workflow records them, by driving the
engine itself (no Temporal): VIP tickets of the pack in force arriving over
30 days at any hour, 60% acknowledged within 0-45 minutes, 80% resolved
within 3 days; each decision's inputs go to `ticket_inputs` (timer wakes a
few tens of milliseconds late, as a worker wakes) and its markers to
`ticket_events`, as the live system writes them. Then the what-if run with
a draft whose first acknowledgment is due in 20 minutes instead of 30,
timed as a whole and split into reading Postgres and replaying; its report
must find no difference from reality (the record is consistent by
construction). A fresh database on DATABASE_URL's server, else an embedded
Postgres; dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import resource
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from bench.stack import _with_database
from dryrun.whatif import compute, load
from engine.core import TicketEngine
from engine.policy_loader import load_policy, parse_policy
from engine.yaml_loader import load_yaml
from infra import db
from infra.embedded_pg import EmbeddedPostgres
from models.actions import MARKERS
from models.ticket import Contact, Ticket

ROOT = Path(__file__).resolve().parent.parent
PACK = "vip-concierge"
START = datetime(2026, 10, 1, tzinfo=UTC)


def _externals(rng: random.Random, opened: datetime) -> list[tuple[datetime, str, dict, str]]:
    out = []
    if rng.random() < 0.6:
        out.append(
            (
                opened + timedelta(minutes=rng.uniform(0, 45)),
                "acknowledged",
                {"event_id": None, "by": "alicia"},
                "console",
            )
        )
    if rng.random() < 0.8:
        out.append(
            (
                opened + timedelta(hours=rng.uniform(2, 72)),
                "resolved",
                {"event_id": None, "by": "alicia", "resolution": "answered"},
                "console",
            )
        )
    return sorted(out, key=lambda x: x[0])


def record_one(policy, i: int, rng: random.Random) -> tuple[list[tuple], list[tuple]]:
    """One ticket's `ticket_inputs` and `ticket_events` rows, as its workflow would write them."""
    wid = f"bench-wi-{i}"
    opened = START + timedelta(minutes=rng.uniform(0, 30 * 24 * 60))
    ticket = Ticket(
        account_id=1,
        conversation_id=i + 1,
        policy=PACK,
        inbox_id=1 + i % 3,
        created_at=opened,
        contact=Contact(name=f"Customer {i}", vip=True),
    )
    engine = TicketEngine.new(policy, ticket, wid)
    inputs: list[tuple] = []
    events: list[tuple] = []

    def note(kind: str, at: datetime, payload: dict, source: str | None) -> None:
        inputs.append(
            (
                wid,
                "",
                len(inputs) + 1,
                kind,
                json.dumps(payload),
                at,
                source,
                None,
                PACK,
                policy.version,
            )
        )

    def did(actions) -> None:
        events.extend(
            (a.key, wid, 1, i + 1, PACK, a.kind, a.target, json.dumps({"summary": a.summary}), a.at)
            for a in actions
            if a.kind in MARKERS
        )

    note(
        "open",
        opened,
        {
            "ticket": ticket.model_dump(mode="json"),
            "life": None,
            "event_stage_markers": True,
            "sop_orders": True,
        },
        None,
    )
    did(engine.open(opened))
    pending, end = _externals(rng, opened), opened + timedelta(days=4)
    while not engine.closed:
        due = engine.next_wakeup()
        wake = None if due is None else due + timedelta(milliseconds=rng.uniform(5, 80))
        arrival = pending[0][0] if pending else None
        now = min(t for t in (wake, arrival, end) if t is not None)
        if now == end:
            break
        if due is not None and due <= now:
            note("advance", now, {}, "timer")
        actions = engine.advance(now)
        while pending and pending[0][0] <= now:
            _, kind, payload, source = pending.pop(0)
            note(kind, now, payload, source)
            actions += getattr(engine, "acknowledged" if kind == "acknowledged" else "resolve")(
                *(("alicia", now) if kind == "acknowledged" else ("alicia", "answered", now))
            )
        did(actions)
    return inputs, events


async def fill(conn, policy, n: int, seed: int = 7) -> float:
    t0 = time.perf_counter()
    rng = random.Random(seed)
    inputs, events = [], []
    for i in range(n):
        a, b = record_one(policy, i, rng)
        inputs += a
        events += b
    await conn.copy_records_to_table(
        "ticket_inputs",
        records=inputs,
        columns=[
            "workflow_id",
            "life",
            "seq",
            "kind",
            "payload",
            "at",
            "source",
            "rejected",
            "policy",
            "policy_version",
        ],
    )
    await conn.copy_records_to_table(
        "ticket_events",
        records=events,
        columns=[
            "idempotency_key",
            "workflow_id",
            "account_id",
            "conversation_id",
            "policy",
            "action",
            "target",
            "details",
            "at_time",
        ],
    )
    data = policy.model_dump_json()
    await conn.execute(
        "INSERT INTO pack_versions (name, version, sha256, policy_json) VALUES ($1, $2, $3, $4)",
        policy.name,
        policy.version,
        hashlib.sha256(data.encode()).hexdigest(),
        data,
    )
    return time.perf_counter() - t0


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the replay processes): what an
    idle machine would need, where wall time on a shared one depends on the neighbours."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


async def bench(dsn: str, n: int, workers: int) -> dict:
    policy = load_policy(PACK, ROOT / "policies")
    text = (
        (ROOT / "policies" / f"{PACK}.yaml")
        .read_text()
        .replace("    duration: 30m\n", "    duration: 20m\n", 1)
    )
    draft = parse_policy(
        load_yaml(text.replace(f'version: "{policy.version}"', 'version: "draft-20m"', 1))
    )
    conn = await asyncpg.connect(dsn)
    try:
        made = await fill(conn, policy, n)
        until = START + timedelta(days=35)
        t0 = time.perf_counter()
        data = await load(conn, PACK, START, until)
        read = time.perf_counter() - t0
    finally:
        await conn.close()
    t1, cpu0 = time.perf_counter(), _cpu()
    result = compute(data, draft, START, until, workers=workers)
    replay, cpu = time.perf_counter() - t1, _cpu() - cpu0
    return {
        "workers": workers,
        "tickets": result.replayed,
        "inputs": sum(len(r.rows) for r in data.recs),
        "generate_s": round(made, 1),
        "read_s": round(read, 1),
        "replay_s": round(replay, 1),
        "replay_cpu_s": round(cpu, 1),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "total_s": round(read + replay, 1),
        "differences": len(result.differences),
        "changed_tickets": len(result.changes),
        "pages_in_force": sum(result.current.pages.values()),
        "pages_draft": sum(result.draft.pages.values()),
    }


@asynccontextmanager
async def scratch_database():
    """A fresh, migrated database on DATABASE_URL's server (else an embedded one), dropped after."""
    embedded = (
        None
        if os.environ.get("DATABASE_URL")
        else EmbeddedPostgres(
            Path(tempfile.mkdtemp(prefix="bench-pg-")) / "data", database="postgres"
        )
    )
    base = os.environ.get("DATABASE_URL") or await embedded.start()
    name = f"ticketflow_bench_{uuid.uuid4().hex[:8]}"
    await _admin(base, f'CREATE DATABASE "{name}"')
    try:
        dsn = _with_database(base, name)
        await db.migrate(dsn)
        yield dsn
    finally:
        await _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if embedded:
            await embedded.stop()


async def _admin(base: str, statement: str) -> None:
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def main(n: int, workers: int = 2) -> dict:
    async with scratch_database() as dsn:
        return await bench(dsn, n, workers)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(
        prog="python -m bench.whatif", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--tickets", type=int, default=10_000)
    ap.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="replay processes (as the CLI)"
    )
    args = ap.parse_args()
    print(json.dumps(asyncio.run(main(args.tickets, args.workers)), indent=2))
