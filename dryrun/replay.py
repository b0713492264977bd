"""Replay a recorded ticket through the engine, without Temporal.

`replay_recorded` feeds a ticket's recorded inputs (`ticket_inputs`,
workflows/inputs.py), in their recorded order and at their recorded
instants, to the same `TicketEngine` the workflow runs, mapped to engine
calls by the workflow's own `_apply`; its handoffs are replayed from their
own recorded inputs by `HandoffSim` (dryrun/replay_handoff.py). Nothing is
executed: actions are collected. What it decides is what the live ticket
decided, so its markers must match the audit trail (dryrun/reality.py).

While it replays, it checks the record holds together (a wake with nothing
due, a deadline that passed with no wake, a handoff result the handoff's
own replay does not report, a refusal the engine does not repeat): each is
a `problem`, a defect in the recording or the replay. And it learns how late
reality was for each internal input (a timer's wake after its deadline, a
forwarded response, a handoff's result, a query's answer, a failure), the
`Oracle` the draft replay (dryrun/replay_draft.py) reuses so that, where a
draft decides what reality decided, it happens at the same instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dryrun.inputs_store import Recorded, Row
from dryrun.replay_handoff import HandoffSim
from engine.core import Rejected, TicketEngine
from models.actions import Action
from models.events import KINDS, TicketEvent, event_of
from models.handoff import HandoffInput, HandoffResponse
from models.policy import Policy
from models.signals import PageUpdate
from models.ticket import Ticket

# The ticket's inbox names (TicketWorkflow._apply) and the typed input each carries.
HANDOFF_INBOX: dict[str, type[HandoffResponse] | type[PageUpdate]] = {
    "respond": HandoffResponse,
    "page_update": PageUpdate,
}


def apply_inbox(
    engine: TicketEngine, name: str, arg: TicketEvent, now: datetime
) -> tuple[list[Action], str | None]:
    """One inbox item, exactly as the workflow applies it: (actions, the refusal if any)."""
    try:
        return engine.receive(arg, now), None
    except Rejected as exc:
        engine.reject(name, str(exc), now)
        return [], str(exc)


def new_engine(policy: Policy, rec: Recorded) -> TicketEngine:
    opening = rec.rows[0].payload
    engine = TicketEngine.new(
        policy,
        Ticket.model_validate(opening["ticket"]),
        rec.workflow_id,
        life=opening.get("life"),
        shadow=opening.get("shadow"),  # a ticket that opened in shadow mode (engine/shadow.py)
    )
    engine.event_stage_markers = bool(opening.get("event_stage_markers", True))
    engine.sop_orders = bool(opening.get("sop_orders", True))
    return engine


@dataclass
class Oracle:
    """How late reality was for each internal input, by what the input was for."""

    wakes: dict[datetime, datetime] = field(
        default_factory=dict
    )  # ticket deadline -> recorded wake
    counts: dict[tuple[str, datetime], tuple[int, datetime]] = field(
        default_factory=dict
    )  # (key, asked) -> answer
    failures: dict[tuple[str, str, datetime], tuple[datetime, str]] = field(
        default_factory=dict
    )  # (key, kind, at)
    handoff_open: dict[str, tuple[datetime, datetime]] = field(
        default_factory=dict
    )  # id -> (started, opened)
    handoff_wakes: dict[tuple[str, datetime], datetime] = field(
        default_factory=dict
    )  # (id, due) -> wake
    forwarded: dict[tuple[str, int, datetime], datetime] = field(
        default_factory=dict
    )  # (id, n, sent) -> consumed
    results: dict[tuple[str, int, datetime], datetime] = field(
        default_factory=dict
    )  # (id, n, reported) -> consumed


@dataclass
class Replay:
    """What a replay decided: every action of the ticket and its handoffs, in order."""

    workflow_id: str
    key_base: str
    opened_at: datetime
    actions: list[Action] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    final_stage: str = ""
    final_owner: str | None = None
    still_due: datetime | None = (
        None  # the earliest wake the replay still had when the record ended
    )
    dropped: int = 0  # (draft) recorded inputs that came after the draft had closed the ticket
    recounted: int = (
        0  # (draft) recent-level queries only the draft asked, counted from the audit trail
    )


def _due_problem(engine: TicketEngine, row: Row) -> str | None:
    due = engine.next_wakeup()
    # Due strictly before the event: a deadline at the event's very instant comes after it.
    if due is not None and due < row.at:
        return (
            f"deadline {due.isoformat()} passed with no recorded wake before {row.kind} "
            f"(seq {row.seq})"
        )
    return None


def replay_recorded(policy: Policy, rec: Recorded) -> tuple[Replay, Oracle]:
    """The recorded ticket, input for input; its actions, problems and lateness."""
    engine = new_engine(policy, rec)
    out, oracle = Replay(rec.workflow_id, engine.key_base, rec.opened_at), Oracle()
    queries: dict[str, Action] = {}
    results: dict[str | None, list[Row]] = {}  # by handoff id (None: a result without one)
    out.actions += engine.open(rec.opened_at)
    prev: Row = rec.rows[0]
    for row in rec.rows[1:]:
        k = row.kind
        if k == "advance":
            due = engine.next_wakeup()
            if due is None or due > row.at:
                out.problems.append(
                    f"recorded wake at {row.at.isoformat()} (seq {row.seq}) had nothing due"
                )
            else:
                oracle.wakes[due] = row.at
            # A wake that saw an event too fired only what was due before the event's instant.
            before = row.payload.get("before")
            new = engine.advance(row.at, datetime.fromisoformat(before) if before else None)
        elif k == "recent_level_counted":
            p = row.payload
            key = p.get("key")
            asked = queries.pop(key, None) if key is not None else None
            if asked is None:
                out.problems.append(
                    f"answer to query {p.get('key')} (seq {row.seq}) that the replay did not ask"
                )
            else:
                oracle.counts[(asked.key, asked.at)] = (int(p["count"]), row.at)
            new = engine.recent_level_counted(int(p["level"]), int(p["count"]), row.at)
        elif k == "action_failed":
            p = row.payload
            engine.record_failure(
                row.at, "ticket", p["action"], p.get("target"), p.get("error", "")
            )
            match = next((a for a in reversed(out.actions) if a.key == p.get("key")), None)
            if match is None:
                out.problems.append(
                    f"failure of {p['action']} {p.get('key')} (seq {row.seq}) "
                    "the replay did not decide"
                )
            else:
                oracle.failures[(match.key, match.kind, match.at)] = (row.at, p.get("error", ""))
                queries.pop(match.key, None)
            new = []
        elif k in KINDS:
            if not (prev.kind == "advance" and prev.at == row.at) and (
                why := _due_problem(engine, row)
            ):
                out.problems.append(why)
            if k == "handoff_result":
                results.setdefault(row.payload.get("handoff_id"), []).append(row)
            new, refused = apply_inbox(engine, k, event_of(k, row.payload), row.at)
            if (refused or None) != (row.rejected or None):
                out.problems.append(
                    f"{k} (seq {row.seq}): "
                    f"live {'refused: ' + row.rejected if row.rejected else 'took it'}"
                    f", replay {'refused: ' + refused if refused else 'took it'}"
                )
        else:
            out.problems.append(f"unknown input kind {k!r} (seq {row.seq})")
            new = []
        queries.update({a.key: a for a in new if a.kind == "query.recent_level"})
        out.actions += new
        prev = row
    out.problems += [f"query {key} was never answered" for key in queries]
    sims = _replay_handoffs(policy, rec, out, oracle)
    _check_results(sims, results, out, oracle)
    waits = [d for d in [engine.next_wakeup(), *(s.wake() for s in sims.values())] if d is not None]
    out.still_due = None if engine.closed else min(waits, default=None)
    out.final_stage, out.final_owner = engine.state.stage, engine.state.owner
    return out, oracle


def _replay_handoffs(
    policy: Policy, rec: Recorded, out: Replay, oracle: Oracle
) -> dict[str, HandoffSim]:
    started = [a for a in out.actions if a.kind == "handoff.start"]
    sims: dict[str, HandoffSim] = {}
    for a in started:
        hid = a.params["handoff_id"]
        rows = rec.handoffs.get(hid)
        if not rows:
            out.problems.append(
                f"handoff {hid} started at {a.at.isoformat()}; its inputs are not recorded"
            )
            continue
        inp = HandoffInput.model_validate({**rows[0].payload, "policy": policy})
        sims[hid] = sim = HandoffSim(inp, rows[0].at)
        oracle.handoff_open[hid] = (inp.started_at, rows[0].at)
        _replay_handoff_rows(sim, rows[1:], out, oracle)
        out.actions += sim.actions
    forwarded = [a for a in out.actions if a.kind in ("handoff.signal", "handoff.page")]
    for hid in sims:
        sent = [a for a in forwarded if a.params.get("handoff_id") == hid]
        got = [r for r in rec.handoffs[hid][1:] if r.kind in HANDOFF_INBOX and r.source == "system"]
        # Pairs in order; any forward the handoff's record does not show stays unpaired.
        for n, (a, r) in enumerate(zip(sent, got, strict=False)):
            oracle.forwarded[(hid, n, a.at)] = r.at
    return sims


def _replay_handoff_rows(sim: HandoffSim, rows: list[Row], out: Replay, oracle: Oracle) -> None:
    """Turn by turn: a turn is the inbox items of one instant, then its timeout or wake."""
    turn: list[Row] = []
    for i, row in enumerate(rows):
        if row.kind == "action_failed":
            p = row.payload
            sim.fail(row.at, p["action"], p.get("target"), p.get("error", ""))
            match = next((a for a in reversed(sim.actions) if a.key == p.get("key")), None)
            if match is not None:
                oracle.failures[(match.key, match.kind, match.at)] = (row.at, p.get("error", ""))
            continue
        turn.append(row)
        nxt = rows[i + 1] if i + 1 < len(rows) else None
        if (
            row.kind in ("timeout", "advance")
            or nxt is None
            or nxt.at != row.at
            or nxt.kind == "action_failed"
        ):
            if row.kind == "advance" and (due := sim.wake()) is not None:
                oracle.handoff_wakes[(sim.id, due)] = row.at
            if row.kind == "timeout":
                oracle.handoff_wakes[(sim.id, sim.inp.deadline)] = row.at
            items = [
                HANDOFF_INBOX[r.kind].model_validate(r.payload)
                for r in turn
                if r.kind in HANDOFF_INBOX
            ]
            before = len(sim.noted)
            sim.turn(row.at, items)
            took = [(k, rej or None) for k, _, rej in sim.noted[before:]]
            want = [(r.kind, r.rejected or None) for r in turn]
            if took != want:
                out.problems.append(
                    f"handoff {sim.id} at {row.at.isoformat()}: recorded {want}, replay took {took}"
                )
            turn = []


def _check_results(
    sims: dict[str, HandoffSim],
    results: dict[str | None, list[Row]],
    out: Replay,
    oracle: Oracle,
) -> None:
    """Each handoff's replayed reports must be the results its ticket recorded, in order."""
    for hid, sim in sims.items():
        got = results.get(hid, [])
        # Either side may be longer (reported below when the record has more).
        for n, ((at, result), row) in enumerate(zip(sim.results, got, strict=False)):
            if result.model_dump(mode="json", exclude={"source", "kind"}) != row.payload:
                out.problems.append(
                    f"handoff {hid} result {n + 1}: replay reports {result.outcome} "
                    f"differently from the recorded one (seq {row.seq})"
                )
            oracle.results[(hid, n, at)] = row.at
        if len(got) > len(sim.results):
            out.problems.append(
                f"handoff {hid}: the ticket recorded {len(got)} results, its replay reports "
                f"{len(sim.results)}"
            )
