"""Replay a recorded ticket against another pack (a draft): the ticket's
outside inputs at their recorded instants, everything internal regenerated.

Outside inputs are what people and systems sent (webhooks, the CLI, the
console, PagerDuty): they would have come whatever the pack said. Internal
inputs depend on the pack, so they are decided again, as the workflows
would (workflows/ticket.py, workflows/ticket_actions.py, workflows/handoff.py):

- timer wakes at the engine's `next_wakeup()`: at the recorded wake when
  reality had the same deadline (the same lateness), else on the deadline;
- handoffs run in-process (`HandoffSim`), started by the draft's own
  `handoff.start`, told what the ticket forwards, their results reported
  back; each at reality's instant when reality did the same, else at once;
- a `query.recent_level` answer: the recorded one when reality asked the
  same query at the same instant, else counted from the audit trail as it
  was (`Replay.recounted` says how many);
- an action fails as it did in reality only when reality decided the very
  same action (key, kind, instant); otherwise it succeeds.

Run against the pack the ticket ran, this reproduces `replay_recorded`
action for action (tests/test_replay_reality.py holds it to that).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import datetime, timedelta

from dryrun.inputs_store import Recorded
from dryrun.replay import HANDOFF_INBOX, Oracle, Replay, apply_inbox, new_engine
from dryrun.replay_handoff import HandoffSim, handoff_input
from models.actions import Action
from models.events import KINDS, TicketEvent, event_of
from models.handoff import HandoffResponse
from models.policy import Policy
from models.signals import PageUpdate

CountLevel = Callable[
    [int, float, datetime, str], int
]  # (level, window s, at, excluded ticket) -> count


class DraftRun:
    def __init__(
        self,
        policy: Policy,
        rec: Recorded,
        oracle: Oracle,
        horizon: datetime,
        count_level: CountLevel | None = None,
    ) -> None:
        self.policy, self.rec, self.oracle, self.horizon = policy, rec, oracle, horizon
        self.count_level = count_level or (lambda *_: 0)
        self.engine = new_engine(policy, rec)
        self.out = Replay(rec.workflow_id, self.engine.key_base, rec.opened_at)
        self._order = itertools.count()
        self._inbox: list[tuple[datetime, int, str, TicketEvent]] = []  # the ticket's, a heap
        self._sims: dict[str, HandoffSim] = {}
        self._sim_inbox: dict[str, list[tuple[datetime, int, HandoffResponse | PageUpdate]]] = {}
        self._forwards: dict[str, int] = {}
        for row in rec.rows[1:]:
            if (
                row.kind in KINDS and row.kind != "handoff_result"
            ):  # a handoff's result is the draft's own
                self._push(row.at, row.kind, event_of(row.kind, row.payload))
        self._outside_to_handoffs = [
            (hid, r)
            for hid, rows in rec.handoffs.items()
            for r in rows[1:]
            if r.kind in HANDOFF_INBOX and r.source != "system"
        ]

    def run(self) -> Replay:
        e = self.engine
        self._execute(e.open(self.rec.opened_at), self.rec.opened_at)
        while True:
            sim_next = min(
                ((t, hid) for hid, s in self._sims.items() if (t := self._sim_next(s)) is not None),
                default=None,
            )
            ticket_next = None if e.closed else self._ticket_next()
            if sim_next is not None and (ticket_next is None or sim_next[0] <= ticket_next):
                if sim_next[0] > self.horizon:
                    break
                self._sim_turn(self._sims[sim_next[1]], sim_next[0])
            elif ticket_next is not None and ticket_next <= self.horizon:
                self._ticket_turn(ticket_next)
            else:
                break
        self.out.dropped += len(self._inbox)
        self.out.final_stage, self.out.final_owner = e.state.stage, e.state.owner
        return self.out

    # ------------------------------------------------------------ the ticket

    def _push(self, at: datetime, name: str, arg: TicketEvent) -> None:
        heapq.heappush(self._inbox, (at, next(self._order), name, arg))

    def _ticket_next(self) -> datetime | None:
        due = self.engine.next_wakeup()
        wake = None if due is None else max(self.oracle.wakes.get(due, due), due)
        arrival = self._inbox[0][0] if self._inbox else None
        return min((t for t in (wake, arrival) if t is not None), default=None)

    def _ticket_turn(self, now: datetime) -> None:
        """The workflow's loop once: deadlines and the inbox in the order they
        happened (an event after what was due strictly before it), then what
        is due by now, then run the actions."""
        actions: list[Action] = []
        while self._inbox and self._inbox[0][0] <= now:
            at, _, name, arg = heapq.heappop(self._inbox)
            actions += self.engine.advance(now, before=at)
            actions += apply_inbox(self.engine, name, arg, at)[0]
        actions += self.engine.advance(now)
        self._execute(actions, now)

    def _execute(self, actions: list[Action], now: datetime) -> None:
        queue = list(actions)
        while queue:
            a = queue.pop(0)
            self.out.actions.append(a)
            failed = self.oracle.failures.get((a.key, a.kind, a.at))
            if failed is not None:
                self.engine.record_failure(failed[0], "ticket", a.kind, a.target, failed[1])
                continue
            if a.kind == "query.recent_level":
                queue[0:0] = self._answer(a)
            elif a.kind == "handoff.start":
                self._start(a, now)
            elif a.kind in ("handoff.signal", "handoff.page"):
                self._forward(a)

    def _answer(self, a: Action) -> list[Action]:
        level = a.params["level"]
        known = self.oracle.counts.get((a.key, a.at))
        if known is None:
            self.out.recounted += 1
            known = (
                self.count_level(level, a.params["window_seconds"], a.at, self.rec.workflow_id),
                a.at,
            )
        return self.engine.recent_level_counted(level, known[0], known[1])

    # ------------------------------------------------------------- handoffs

    def _start(self, a: Action, now: datetime) -> None:
        inp = handoff_input(a.params, self.engine.policy, self.engine.state)
        started, opened = self.oracle.handoff_open.get(inp.handoff_id, (None, now))
        sim = HandoffSim(inp, opened if started == inp.started_at else now)
        self._sims[inp.handoff_id] = sim
        self._sim_inbox[inp.handoff_id] = [
            (r.at, next(self._order), HANDOFF_INBOX[r.kind].model_validate(r.payload))
            for hid, r in self._outside_to_handoffs
            if hid == inp.handoff_id
        ]

    def _forward(self, a: Action) -> None:
        p, hid = a.params, a.params["handoff_id"]
        sim = self._sims.get(hid)
        if sim is None or sim.finished:
            self.engine.record_failure(
                a.at, "ticket", a.kind, a.target, f"handoff {hid} is no longer running"
            )
            return
        n = self._forwards[hid] = self._forwards.get(hid, -1) + 1
        at = max(self.oracle.forwarded.get((hid, n, a.at), a.at), a.at)
        item = (
            PageUpdate(
                dedup_key=p["dedup_key"], status=p["status"], by=p.get("by"), source="system"
            )
            if a.kind == "handoff.page"
            else HandoffResponse(
                by=p["by"],
                ok=p["ok"],
                decision=p.get("decision"),
                founder_action=p.get("founder_action"),
                source="system",
            )
        )
        heapq.heappush(self._sim_inbox[hid], (at, next(self._order), item))

    def _sim_next(self, sim: HandoffSim) -> datetime | None:
        if sim.finished:
            return None
        inbox = self._sim_inbox[sim.id]
        due = sim.wake()
        wake = (
            None
            if due is None
            else max(self.oracle.handoff_wakes.get((sim.id, due), due), due, sim.opened_at)
        )
        return min(
            (t for t in (wake, inbox[0][0] if inbox else None) if t is not None), default=None
        )

    def _sim_turn(self, sim: HandoffSim, now: datetime) -> None:
        inbox = self._sim_inbox[sim.id]
        items: list[HandoffResponse | PageUpdate] = []
        while inbox and inbox[0][0] <= now:
            items.append(heapq.heappop(inbox)[2])
        reported = len(sim.results)
        for a in sim.turn(now, items):
            self.out.actions.append(a)
            failed = self.oracle.failures.get((a.key, a.kind, a.at))
            if failed is not None:
                sim.fail(failed[0], a.kind, a.target, failed[1])
        for n in range(reported, len(sim.results)):
            at, result = sim.results[n]
            if not self.engine.closed:
                self._push(
                    max(self.oracle.results.get((sim.id, n, at), at), at), "handoff_result", result
                )


def replay_draft(
    policy: Policy,
    rec: Recorded,
    oracle: Oracle,
    horizon: datetime,
    count_level: CountLevel | None = None,
) -> Replay:
    return DraftRun(policy, rec, oracle, horizon, count_level).run()


def horizon_of(current: Replay, rec: Recorded, until: datetime) -> datetime:
    """How far to let a draft run. A ticket the replay says was due to wake before `until`
    but whose record stops is not running (terminated, or its inputs not written yet):
    its draft stops where its record does. Otherwise it runs until `until`."""
    if current.still_due is not None and current.still_due <= until:
        return rec.last_at + timedelta(microseconds=1)
    return until
