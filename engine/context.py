"""What every part of the ticket decision core shares, in one object.

The core is split by concern (clocks, the ladder, facts and rules, stages,
pages, handoffs), and each concern is a small class holding this context:
the ticket's policy and state, the flags that pin a live ticket's code path
(set by the workflow from `workflow.patched`), and the builders every
concern uses to say what happened -- actions and markers, whose keys come
from the one sequence in state, and ladder entries. Keeping them here, and
only here, makes every concern draw its keys from that one sequence, in the
order the decisions are made: every saved history must replay with the same
keys.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from engine import business_time
from engine.conditions import holds
from engine.shadow import WITHHELD_KINDS, withhold
from models.actions import Action
from models.policy import EventName, Policy
from models.state import LadderEntry, TicketState
from models.timezones import local_time

MAX_SEEN = 500  # event ids remembered for deduplication
MAX_LADDER = 300  # ladder entries kept in state (and in status)


class Rejected(ValueError):
    """An event or operator action the ticket cannot accept; the message says why."""


class Reactor(Protocol):
    """How the ticket reacts to an event and to time (engine/reactions.py).

    Concerns that raise an event (an assignment, a level) or let time run
    (a breach's ladder) call it through the context, so that no module
    imports the one that composes it."""

    def emit(
        self, event: EventName, now: datetime, context: dict[str, Any] | None = None
    ) -> list[Action]: ...

    def advance(self, now: datetime) -> list[Action]: ...


class TicketContext:
    def __init__(self, policy: Policy, state: TicketState, *, reactive: bool = True) -> None:
        """`reactive=False` runs steps only (no clocks, no rules): what a
        handoff workflow needs to walk its own on-failure ladder."""
        self.policy = policy
        self.state = state
        self.reactive = reactive
        # Stage changes from events (ack, escalate, resolve, reopen) record a
        # marker and mirror to Chatwoot. Tickets started before the
        # `event-stage-markers` patch replay without them (the workflow sets
        # this from `workflow.patched`).
        self.event_stage_markers = True
        # Clocks armed by events and gated by conditions, `condition_met`
        # rules, handoff `on_start`, silent customer-facing clocks and
        # `max_catch_up` (see README). Tickets started before the
        # `sop-event-orders` patch replay without them.
        self.sop_orders = True
        # Slack posts edited in place when the ticket is acknowledged, taken or
        # resolved (engine/channels.py). Tickets started before the
        # `chat-channels` patch replay without them.
        self.chat_updates = True
        self.depth = 0  # events raised while handling an event (a rule loop guard)
        # The real "now" while a batch of decisions runs: steps replayed at
        # their own due instant (a breach's ladder) still know how late they are.
        self.wall: datetime | None = None
        # A handoff workflow's ladder (engine/handoff.py) runs on a state of its
        # own, keyed by the handoff's id: the ticket it belongs to (what its
        # templates and pages name), and the deadline its pages are about.
        self.ticket_id: str | None = None
        self.answer_due: tuple[str, datetime] | None = None
        self._reactor: Reactor | None = None

    @property
    def reactor(self) -> Reactor:
        assert self._reactor is not None, "TicketEngine binds the reactor when it composes the core"
        return self._reactor

    def bind(self, reactor: Reactor) -> None:
        self._reactor = reactor

    # ------------------------------------------------------------------ views

    @property
    def key_base(self) -> str:
        return self.state.key_base or self.state.workflow_id

    @property
    def ticket_workflow_id(self) -> str:
        """The ticket's workflow id (the one people and the console know it by)."""
        return self.ticket_id or self.state.workflow_id

    @property
    def closed(self) -> bool:
        return self.state.stage == "closed"

    def facts(
        self, extra: dict[str, Any] | None = None, at: datetime | None = None
    ) -> dict[str, Any]:
        """The ticket's facts (plus an event's context). With `at`, also
        `open:<calendar>` for each calendar: true while it is open then."""
        s = self.state
        out = {**self.policy.facts, **s.facts, "stage": s.stage, "owner": s.owner, "level": s.level}
        if at is not None:
            out.update(
                {
                    f"open:{name}": business_time.is_open(cal, at)
                    for name, cal in self.policy.calendars.items()
                }
            )
        if extra:
            out.update(extra)
        return out

    @property
    def shadow(self) -> bool:
        """In shadow mode: nothing decided reaches Chatwoot or PagerDuty (engine/shadow.py)."""
        return self.state.shadow is not None

    def silent(self) -> bool:
        return self.policy.silent_when is not None and holds(self.policy.silent_when, self.facts())

    def name(self, pid: str | None) -> str:
        party = self.policy.party(pid) if pid else None
        return party.name if party else (pid or "nobody")

    def local(self, t: datetime) -> str:
        return local_time(t, self.policy.timezone)

    # ---------------------------------------------------------------- gates

    def seen(self, event_id: str | None) -> bool:
        """True for an event id already handled (a redelivered webhook); else remember it."""
        if event_id is None:
            return False
        if event_id in self.state.seen_events:
            return True
        self.state.seen_events.append(event_id)
        del self.state.seen_events[:-MAX_SEEN]
        return False

    def require_open(self, what: str) -> None:
        if self.closed:
            raise Rejected(f"{what}: ticket is closed")

    def check_party(self, pid: str) -> None:
        if self.policy.party(pid) is None:
            raise Rejected(
                f"unknown person or team {pid!r}; known: {', '.join(sorted(self.policy.party_ids))}"
            )

    # -------------------------------------------------------------- builders

    def next_seq(self) -> int:
        self.state.seq += 1
        return self.state.seq

    def action(
        self,
        kind: str,
        at: datetime,
        summary: str,
        target: str | None = None,
        params: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> Action:
        key = key or f"{self.key_base}:{self.next_seq()}"
        if self.state.shadow is not None and kind in WITHHELD_KINDS:
            # Shadow mode: recorded as what would have been sent, never sent (engine/shadow.py).
            kind, summary, params = withhold(kind, summary, target, params or {}, self.name)
        return Action(
            kind=kind, key=key, at=at, target=target, summary=summary, params=params or {}
        )

    def marker(
        self,
        kind: str,
        at: datetime,
        summary: str,
        target: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Action:
        return self.action(kind, at, summary, target, params)

    def log(self, at: datetime, source: str, action: str, target: str | None, summary: str) -> None:
        self.state.ladder.append(
            LadderEntry(at=at, source=source, action=action, target=target, summary=summary)
        )
        self.trim()

    def trim(self) -> None:
        del self.state.ladder[:-MAX_LADDER]


def jsonable(d: dict[str, Any]) -> dict[str, Any]:
    """The JSON-ready part of a context dict, for an action's params."""
    return {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in d.items()
        if v is None or isinstance(v, (str, int, float, bool, datetime, list, dict))
    }
