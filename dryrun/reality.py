"""Replay against reality: does the replay of a recorded ticket decide what
the live system did, action for action and instant for instant?

What the live system did is its audit trail, `ticket_events`: one row per
marker action (`ticket.opened`, `sla.breached`, `ticket.level`, ...; see
models/actions.MARKERS), keyed by the action's key, dated by its `at`,
written by the ticket and by its handoffs under the ticket's id
(workflows/actions.py, workflows/batched.py), and one `action.failed` row
per action that failed after its retries, keyed `<action key>:failed` and
dated when the failure was taken (workflows/failures.py). Every engine
action draws its key from one sequence, so a replay that decided one action
more or less anywhere shows up here as keys that differ.

Chatwoot and PagerDuty calls leave no row in Postgres; they are checked
against the stand-ins in the test suite (tests/test_replay_reality.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dryrun.inputs_store import RealEvent, Recorded
from dryrun.replay import Replay
from models.actions import MARKERS

INPUTS_FAILED = (
    "audit.record_inputs"  # a recording write that failed for good (workflows/inputs.py)
)


@dataclass(frozen=True)
class Difference:
    workflow_id: str
    key: str
    what: str

    def as_dict(self) -> dict:
        return {"ticket": self.workflow_id, "key": self.key, "what": self.what}


def _when(t: datetime | None) -> str:
    return t.isoformat() if t else "-"


def belongs(key: str, rec: Recorded, other_lives: set[str]) -> bool:
    """Is an audit row's key this ticket life's? A later life's keys start `<id>:<life>:`."""
    if not key.startswith(rec.key_base + ":"):
        return False
    return bool(rec.life) or key.split(":", 2)[1] not in other_lives


def expected_rows(replay: Replay, rec: Recorded) -> dict[str, tuple[str, str | None, datetime]]:
    """key -> (action, target, at) of the rows the replay says the audit trail must hold."""
    rows: dict[str, tuple[str, str | None, datetime]] = {
        a.key: (a.kind, a.target, a.at) for a in replay.actions if a.kind in MARKERS
    }
    for rows_of in [rec.rows, *rec.handoffs.values()]:
        for r in rows_of:
            if r.kind == "action_failed":
                key = f"{r.payload.get('key')}:failed"[:300]
                rows[key] = ("action.failed", r.payload.get("target"), r.at)
    return rows


def compare(
    replay: Replay, rec: Recorded, events: list[RealEvent], other_lives: set[str]
) -> list[Difference]:
    """Every way the replay and the audit trail disagree about this ticket life."""
    wid = rec.workflow_id
    want = expected_rows(replay, rec)
    have: dict[str, RealEvent] = {}
    out = [Difference(wid, "", f"recording: {gap}") for gap in rec.gaps()]
    out += [Difference(wid, "", f"replay: {p}") for p in replay.problems]
    for ev in events:
        if not belongs(ev.key, rec, other_lives):
            continue
        if ev.action == "action.failed" and ev.details.get("action") == INPUTS_FAILED:
            out.append(
                Difference(
                    wid,
                    ev.key,
                    f"recording: inputs not written at {_when(ev.at)} "
                    f"({str(ev.details.get('error'))[:120]})",
                )
            )
            continue
        have[ev.key] = ev
    for key in sorted(
        set(want) | set(have), key=lambda k: (want.get(k, (0, 0, None))[2] or have[k].at, k)
    ):
        w, h = want.get(key), have.get(key)
        if h is None:
            assert w is not None  # every key is in `want` or in `have`
            out.append(
                Difference(
                    wid,
                    key,
                    f"replay decided {w[0]} -> {w[1] or '-'} at {_when(w[2])}; "
                    f"the audit trail has no such row",
                )
            )
        elif w is None:
            out.append(
                Difference(
                    wid,
                    key,
                    f"audit trail has {h.action} -> {h.target or '-'} at {_when(h.at)}; "
                    f"the replay did not decide it",
                )
            )
        elif (w[0], w[1], w[2]) != (h.action, h.target, h.at):
            out.append(
                Difference(
                    wid,
                    key,
                    f"replay decided {w[0]} -> {w[1] or '-'} at {_when(w[2])}; "
                    f"the audit trail has {h.action} -> {h.target or '-'} at {_when(h.at)}",
                )
            )
    return out


def same_actions(a: Replay, b: Replay) -> list[str]:
    """Where two replays of one ticket decided differently (by key: kind, target, instant)."""
    left = {x.key: (x.kind, x.target, x.at) for x in a.actions}
    right = {x.key: (x.kind, x.target, x.at) for x in b.actions}
    return [
        f"{k}: {left.get(k)} vs {right.get(k)}"
        for k in sorted(set(left) | set(right))
        if left.get(k) != right.get(k)
    ]
