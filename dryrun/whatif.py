"""`ticketflow whatif DRAFT.yaml`: what a draft pack would have done with
the tickets the pack in force already had.

Each recorded ticket of the draft's pack (its inputs in `ticket_inputs`) is
replayed twice through the engine, without Temporal and with no side
effect: once against the pack content it really ran (`pack_versions`),
input for input (dryrun/replay.py), which must reproduce its audit trail
(dryrun/reality.py: any difference is reported, never hidden); and once
against the draft, its outside inputs at their recorded instants and its
internal ones regenerated (dryrun/replay_draft.py). The two are compared
side by side (dryrun/whatif_metrics.py) and printed (dryrun/whatif_report.py).
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from dryrun import inputs_store as store
from dryrun.inputs_store import PackContent, Recorded
from dryrun.reality import Difference, compare, same_actions
from dryrun.replay import Oracle, replay_recorded
from dryrun.replay_draft import horizon_of, replay_draft
from dryrun.whatif_metrics import Change, Side, change, tz_of
from models.adoption import IMPORTED_LIFE
from models.policy import Policy


@dataclass
class WhatIf:
    pack: str
    draft_version: str
    since: datetime
    until: datetime
    current: Side = field(default_factory=Side)
    draft: Side = field(default_factory=Side)
    changes: list[Change] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    versions: dict[str, int] = field(
        default_factory=dict
    )  # "version (sha)" -> tickets replayed against it
    unavailable: dict[str, list[str]] = field(
        default_factory=dict
    )  # version -> tickets not replayable
    notes: list[str] = field(default_factory=list)
    unrecorded: int = 0  # tickets in the audit trail with no recorded inputs
    dropped: int = 0
    recounted: int = 0
    imported: int = 0  # tickets imported from Chatwoot's history (`ticketflow import chatwoot`)
    seconds: float = 0.0

    @property
    def replayed(self) -> int:
        return self.current.tickets

    def merge(self, other: WhatIf) -> None:
        """Add another share of the tickets (a worker process's), in ticket order."""
        self.current.merge(other.current)
        self.draft.merge(other.draft)
        self.changes += other.changes
        self.differences += other.differences
        for label, n in other.versions.items():
            self.versions[label] = self.versions.get(label, 0) + n
        for version, wids in other.unavailable.items():
            self.unavailable.setdefault(version, []).extend(wids)
        self.notes += [n for n in other.notes if n not in self.notes]
        self.dropped += other.dropped
        self.recounted += other.recounted
        self.imported += other.imported

    def as_dict(self) -> dict:
        return {
            "pack": self.pack,
            "draft_version": self.draft_version,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "current": self.current.as_dict(),
            "draft": self.draft.as_dict(),
            "changed_tickets": [c.as_dict() for c in self.changes],
            "differences_from_reality": [d.as_dict() for d in self.differences],
            "versions": self.versions,
            "content_unavailable": self.unavailable,
            "notes": self.notes,
            "tickets_without_recorded_inputs": self.unrecorded,
            "draft_dropped_inputs": self.dropped,
            "draft_recounted_queries": self.recounted,
            "imported_from_chatwoot": self.imported,
            "seconds": round(self.seconds, 2),
        }


def pick_content(contents: list[PackContent], rec: Recorded) -> tuple[PackContent | None, bool]:
    """The content the ticket ran: the one loaded for its version (the latest loaded by its
    opening when a version was reused for several contents); and whether that was a guess."""
    same = [c for c in contents if c.version == rec.version]
    if len(same) <= 1:
        return (same[0] if same else None), False
    before = [c for c in same if c.first_loaded_at <= rec.opened_at]
    return (before[-1] if before else same[0]), True


class LevelCounter:
    """`query.recent_level` as the live activity answers it (activities/audit.py), over the
    audit trail as it was: for a query only the draft asks."""

    def __init__(self, events: list[tuple[str, int, datetime]], pack: str) -> None:
        self.by_level: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
        for wid, level, at in events:
            self.by_level[level].append((at, wid))
        for xs in self.by_level.values():
            xs.sort()

    def __call__(self, level: int, window_seconds: float, at: datetime, exclude: str) -> int:
        xs = self.by_level.get(level, [])
        lo = bisect.bisect_right(xs, (at - timedelta(seconds=window_seconds), "\uffff"))
        hi = bisect.bisect_right(xs, (at, "\uffff"))
        return len({wid for _, wid in xs[lo:hi] if wid != exclude})


def web_ui_link(ui_url: str, namespace: str, workflow_id: str) -> str:
    return f"{ui_url.rstrip('/')}/namespaces/{namespace}/workflows/{workflow_id}"


@dataclass
class Loaded:
    """What a what-if run reads from Postgres (dryrun/inputs_store.py), before any replay."""

    recs: list[Recorded]
    contents: list[PackContent]
    events: dict
    levels: list
    unrecorded: int


async def load(
    conn, pack: str, since: datetime, until: datetime, inboxes: list[int] | None = None
) -> Loaded:
    recs = await store.recorded_tickets(conn, pack, since, until, inboxes)
    return Loaded(
        recs,
        await store.pack_contents(conn, pack),
        await store.real_events(conn, sorted({r.workflow_id for r in recs})),
        await store.level_events(conn, pack, since - timedelta(days=7)),
        await store.unrecorded_count(conn, pack, since, until),
    )


PARALLEL_FROM = 2000  # tickets from which a run shares the replay among processes


def compute(
    data: Loaded, draft: Policy, since: datetime, until: datetime, *, workers: int = 1, **kw
) -> WhatIf:
    """The comparison, CPU only (the console runs it in a thread). With `workers` > 1 and
    many tickets, shares of the tickets replay in as many processes (the replay is CPU-bound
    and each ticket's is independent), merged in ticket order."""
    t0 = time.perf_counter()
    if workers <= 1 or len(data.recs) < PARALLEL_FROM:
        out = _compute(data, draft, since, until, **kw)
    else:
        from concurrent.futures import ProcessPoolExecutor

        size = -(-len(data.recs) // workers)
        shares = [
            Loaded(
                recs,
                data.contents,
                {r.workflow_id: data.events.get(r.workflow_id, []) for r in recs},
                data.levels,
                data.unrecorded,
            )
            for recs in (data.recs[i : i + size] for i in range(0, len(data.recs), size))
        ]
        with ProcessPoolExecutor(workers) as pool:
            parts = list(
                pool.map(partial(_compute, draft=draft, since=since, until=until, **kw), shares)
            )
        out = parts[0]
        for part in parts[1:]:
            out.merge(part)
    out.seconds = time.perf_counter() - t0
    return out


def _compute(
    data: Loaded,
    draft: Policy,
    since: datetime,
    until: datetime,
    *,
    ui_url: str = "http://localhost:8233",
    namespace: str = "default",
    check_driver: bool = False,
) -> WhatIf:
    """One process's share: `check_driver` also replays each ticket's pack in force the
    draft's way and reports where that differs."""
    t0 = time.perf_counter()
    out = WhatIf(draft.name, draft.version, since, until, unrecorded=data.unrecorded)
    count_level = LevelCounter(data.levels, draft.name)
    lives: dict[str, set[str]] = defaultdict(set)
    for r in data.recs:
        if r.life:
            lives[r.workflow_id].add(r.life)
    tz = tz_of(draft)
    guessed = 0
    for rec in data.recs:
        content, guess = pick_content(data.contents, rec)
        if content is None:
            out.unavailable.setdefault(rec.version, []).append(rec.workflow_id)
            continue
        guessed += guess
        label = f"{content.version} ({content.sha256[:12]})"
        out.versions[label] = out.versions.get(label, 0) + 1
        if rec.life == IMPORTED_LIFE:
            # Imported from Chatwoot's history (starter/import_chatwoot.py): no live run
            # to reproduce, so the pack in force is replayed the way the draft is.
            oracle, horizon = Oracle(), until
            current = replay_draft(content.policy, rec, oracle, horizon, count_level)
            out.imported += 1
        else:
            current, oracle, horizon, diffs = replay_checked(
                content.policy,
                rec,
                data.events.get(rec.workflow_id, []),
                lives[rec.workflow_id],
                until,
                check_driver,
                count_level,
            )
            out.differences += diffs
        if current is None or oracle is None or horizon is None:
            continue
        drafted = replay_draft(draft, rec, oracle, horizon, count_level)
        out.current.add(current, tz)
        out.draft.add(drafted, tz)
        out.dropped += drafted.dropped
        out.recounted += drafted.recounted
        if (c := change(current, drafted, tz)) is not None:
            c.url = web_ui_link(ui_url, namespace, rec.workflow_id)
            out.changes.append(c)
    if guessed:
        out.notes.append(
            f"{guessed} tickets ran a version whose number was reused for several contents: "
            f"replayed against the content loaded last before each opened"
        )
    out.seconds = time.perf_counter() - t0
    return out


async def whatif(
    conn, draft: Policy, since: datetime, until: datetime, *, inboxes: list[int] | None = None, **kw
) -> WhatIf:
    t0 = time.perf_counter()
    data = await load(conn, draft.name, since, until, inboxes)
    out = compute(data, draft, since, until, **kw)
    out.seconds = time.perf_counter() - t0
    return out


def replay_checked(
    policy: Policy,
    rec: Recorded,
    events: list,
    other_lives: set[str],
    until: datetime,
    check_driver: bool,
    count_level=None,
):
    """The input-for-input replay of one ticket and how it differs from its audit trail:
    (replay, oracle, the draft's horizon, differences); no replay when inputs are missing."""
    if rec.gaps():
        return (
            None,
            None,
            None,
            [
                Difference(rec.workflow_id, "", f"recording: {gap}; not replayed")
                for gap in rec.gaps()
            ],
        )
    current, oracle = replay_recorded(policy, rec)
    diffs = compare(current, rec, events, other_lives)
    horizon = horizon_of(current, rec, until)
    if check_driver:
        again = replay_draft(policy, rec, oracle, horizon, count_level)
        diffs += [
            Difference(rec.workflow_id, "", f"driver: {d}") for d in same_actions(current, again)
        ]
    return current, oracle, horizon, diffs


async def replay_vs_reality(
    conn, workflow_ids: list[str], check_driver: bool = True
) -> tuple[int, list[Difference]]:
    """Replay these tickets against the pack content each ran and compare with their audit
    trail (the replay-equals-reality check the test suites run); (replayed, differences)."""
    recs = await store.recorded_by_id(conn, workflow_ids)
    contents = {pack: await store.pack_contents(conn, pack) for pack in {r.policy for r in recs}}
    events = await store.real_events(conn, sorted({r.workflow_id for r in recs}))
    out: list[Difference] = []
    for rec in recs:
        content, _ = pick_content(contents[rec.policy], rec)
        if content is None:
            out.append(
                Difference(
                    rec.workflow_id, "", f"pack {rec.policy} {rec.version}: content not recorded"
                )
            )
            continue
        lives = {r.life for r in recs if r.workflow_id == rec.workflow_id and r.life}
        out += replay_checked(
            content.policy, rec, events.get(rec.workflow_id, []), lives, rec.last_at, check_driver
        )[3]
    return len(recs), out


def parse_since(text: str, now: datetime) -> datetime:
    """`30d`, `12h`, `90m` before now, or an ISO 8601 date or instant (UTC when it has no zone)."""

    text = text.strip()
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if text[-1:] in units and text[:-1].isdigit():
        return now - timedelta(**{units[text[-1]]: int(text[:-1])})
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def whatif_dsn(dsn: str, draft: Policy, since: datetime, until: datetime, **kw) -> WhatIf:
    conn = await store.connect(dsn)
    try:
        return await whatif(conn, draft, since, until, **kw)
    finally:
        await conn.close()
