"""What a what-if run reads from Postgres: the recorded inputs of a pack's
tickets (`ticket_inputs`, workflows/inputs.py), the pack contents they ran
(`pack_versions`, activities/policy.py), and what the live system did
(`ticket_events`, the audit trail the replay is checked against).

Read only: nothing here writes, so a what-if run has no side effect.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import asyncpg

from models.policy import Policy

# A handoff's workflow id is `<ticket key base>:handoff:<name>:<n>` (engine/ticket_handoffs.py).
HANDOFF_MARK = ":handoff:"


@dataclass(slots=True)
class Row:
    """One recorded input (a `ticket_inputs` row)."""

    seq: int
    kind: str
    payload: dict
    at: datetime
    source: str | None = None
    rejected: str | None = None


@dataclass
class Recorded:
    """One ticket life's recorded inputs, with its handoffs' own."""

    workflow_id: str
    life: str
    policy: str
    version: str
    rows: list[Row]
    handoffs: dict[str, list[Row]] = field(default_factory=dict)

    @property
    def key_base(self) -> str:
        return f"{self.workflow_id}:{self.life}" if self.life else self.workflow_id

    @property
    def opened_at(self) -> datetime:
        return self.rows[0].at

    @property
    def last_at(self) -> datetime:
        return max([self.rows[-1].at] + [rs[-1].at for rs in self.handoffs.values() if rs])

    @property
    def inbox_id(self) -> int | None:
        return (self.rows[0].payload.get("ticket") or {}).get("inbox_id")

    def gaps(self) -> list[str]:
        """Recorded inputs missing (a write that failed for good): such a ticket
        cannot be replayed."""
        out = []
        for wid, rows in [(self.workflow_id, self.rows), *self.handoffs.items()]:
            seqs = [r.seq for r in rows]
            if not seqs or seqs[0] != 1 or rows[0].kind != "open":
                out.append(f"{wid}: its opening is not recorded")
            elif seqs != list(range(1, len(seqs) + 1)):
                missing = sorted(set(range(1, seqs[-1] + 1)) - set(seqs))
                out.append(f"{wid}: inputs {', '.join(map(str, missing[:10]))} not recorded")
        return out


@dataclass
class PackContent:
    name: str
    version: str
    sha256: str
    policy_json: str
    first_loaded_at: datetime

    @cached_property
    def policy(self) -> Policy:
        return Policy.model_validate_json(self.policy_json)


@dataclass(slots=True)
class RealEvent:
    """A `ticket_events` row: what the live system did."""

    key: str
    action: str
    target: str | None
    at: datetime
    details: dict


def _since_filter(inboxes: list[int] | None) -> str:
    inbox = "AND (payload->'ticket'->>'inbox_id')::int = ANY($4::int[])" if inboxes else ""
    return f"""SELECT workflow_id, life FROM ticket_inputs
               WHERE policy = $1 AND kind = 'open' AND seq = 1 AND at >= $2 AND at < $3
                 AND position('{HANDOFF_MARK}' in workflow_id) = 0 {inbox}"""


_SELECT = f"""SELECT workflow_id, life, seq, kind, payload, at, source, rejected,
                   policy, policy_version
            FROM ticket_inputs i
            WHERE (i.workflow_id, i.life) IN (SELECT workflow_id, life FROM t)
               OR (position('{HANDOFF_MARK}' in i.workflow_id) > 0
                   AND split_part(i.workflow_id, ':', 1) IN (SELECT workflow_id FROM t))
            ORDER BY workflow_id, life, seq"""


async def recorded_tickets(
    conn, pack: str, since: datetime, until: datetime, inboxes: list[int] | None = None
) -> list[Recorded]:
    """Every ticket life of `pack` opened in [since, until), with its handoffs' inputs."""
    args: list = [pack, since, until] + ([inboxes] if inboxes else [])
    return _group(await conn.fetch(f"WITH t AS ({_since_filter(inboxes)}) {_SELECT}", *args))


async def recorded_by_id(conn, workflow_ids: list[str]) -> list[Recorded]:
    """Every recorded life of these tickets, whatever their pack."""
    return _group(
        await conn.fetch(
            f"""WITH t AS (SELECT DISTINCT workflow_id, life FROM ticket_inputs
                       WHERE workflow_id = ANY($1::text[]) AND kind = 'open' AND seq = 1)
                {_SELECT}""",
            workflow_ids,
        )
    )


def _group(rows) -> list[Recorded]:
    tickets: dict[tuple[str, str], Recorded] = {}
    handoffs: dict[str, list[Row]] = {}
    for r in rows:
        row = Row(
            r["seq"], r["kind"], json.loads(r["payload"]), r["at"], r["source"], r["rejected"]
        )
        wid = r["workflow_id"]
        if HANDOFF_MARK in wid:
            handoffs.setdefault(wid, []).append(row)
            continue
        rec = tickets.get((wid, r["life"]))
        if rec is None:
            rec = tickets[(wid, r["life"])] = Recorded(
                wid, r["life"], r["policy"], r["policy_version"], []
            )
        rec.rows.append(row)
    for hid, hrows in handoffs.items():
        base = hid.split(HANDOFF_MARK, 1)[0]
        wid, _, life = base.partition(":")
        rec = tickets.get((wid, life))
        if rec is not None:
            rec.handoffs[hid] = hrows
    return sorted(tickets.values(), key=lambda t: (t.opened_at, t.workflow_id, t.life))


async def pack_contents(conn, pack: str) -> list[PackContent]:
    """Every content of `pack` a worker loaded, oldest first."""
    rows = await conn.fetch(
        "SELECT name, version, sha256, policy_json, first_loaded_at FROM pack_versions "
        "WHERE name = $1 ORDER BY first_loaded_at, sha256",
        pack,
    )
    return [
        PackContent(r["name"], r["version"], r["sha256"], r["policy_json"], r["first_loaded_at"])
        for r in rows
    ]


async def real_events(conn, workflow_ids: list[str]) -> dict[str, list[RealEvent]]:
    """The audit trail of these tickets (their handoffs' rows carry the ticket's id)."""
    rows = await conn.fetch(
        "SELECT workflow_id, idempotency_key, action, target, at_time, details FROM ticket_events "
        "WHERE workflow_id = ANY($1::text[]) ORDER BY at_time, id",
        workflow_ids,
    )
    out: dict[str, list[RealEvent]] = {}
    for r in rows:
        out.setdefault(r["workflow_id"], []).append(
            RealEvent(
                r["idempotency_key"],
                r["action"],
                r["target"],
                r["at_time"],
                json.loads(r["details"]),
            )
        )
    return out


async def level_events(conn, pack: str, since: datetime) -> list[tuple[str, int, datetime]]:
    """(ticket, level, instant) of every `ticket.level` row of the pack since then: what the live
    `query.recent_level` counts (activities/audit.py), for a query only the draft asks."""
    rows = await conn.fetch(
        "SELECT workflow_id, (details->>'level')::int AS level, at_time FROM ticket_events "
        "WHERE policy = $1 AND action = 'ticket.level' AND at_time >= $2",
        pack,
        since,
    )
    return [(r["workflow_id"], r["level"], r["at_time"]) for r in rows]


async def unrecorded_count(conn, pack: str, since: datetime, until: datetime) -> int:
    """Tickets of the pack opened in the period that the audit trail knows but whose
    inputs were never recorded (started before `ticket-inputs`): not replayable."""
    return int(
        await conn.fetchval(
            """SELECT count(DISTINCT e.workflow_id) FROM ticket_events e
           WHERE e.policy = $1 AND e.action = 'ticket.opened' AND e.at_time >= $2 AND e.at_time < $3
             AND NOT EXISTS (SELECT 1 FROM ticket_inputs i WHERE i.workflow_id = e.workflow_id)""",
            pack,
            since,
            until,
        )
        or 0
    )


async def connect(dsn: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn)
