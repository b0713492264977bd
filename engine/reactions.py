"""How the ticket reacts to an event, and to time passing.

An event moves the clocks (stop, restart, arm, then run or wait by the
facts), schedules the rules it triggers and any "at once" rule whose
condition now holds, then lets time run. Letting time run takes every
breach and ladder step due by now in the order of their instants, each
dated at its own instant, while the context's `wall` keeps the real now so
the ladder knows how late a step is (catch-up). The concerns below (clocks,
steps, stages, handoffs) raise their events and let time run through this
one place, bound into the shared context.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.clocks import Clocks
from engine.context import TicketContext
from engine.facts import FactsAndRules
from engine.ladder import Ladder
from engine.steps import StepRunner
from models.actions import Action
from models.policy import EventName
from models.state import ClockState, PendingStep

MAX_EVENT_DEPTH = 8  # events raised while handling events: more is a loop in the pack's rules


class Reactions:
    def __init__(
        self,
        ctx: TicketContext,
        clocks: Clocks,
        facts_and_rules: FactsAndRules,
        ladder: Ladder,
        steps: StepRunner,
    ) -> None:
        self.ctx = ctx
        self.clocks = clocks
        self.facts_and_rules = facts_and_rules
        self.ladder = ladder
        self.steps = steps

    def emit(
        self, event: EventName, now: datetime, context: dict[str, Any] | None = None
    ) -> list[Action]:
        """Apply an event to clocks and rules, then run whatever became due."""
        c = self.ctx
        if c.depth > MAX_EVENT_DEPTH:
            raise RuntimeError(f"policy rules loop on event {event!r}")
        c.depth += 1
        try:
            context = context or {}
            actions: list[Action] = []
            if not c.reactive:
                return self.advance(now)
            if c.sop_orders:
                actions += self.clocks.on_event(event, now)
            else:
                actions += self.clocks.on_event_v1(event, now)
            self.facts_and_rules.run_rules(event, now, context)
            if c.sop_orders:
                self.facts_and_rules.fire_conditions(now)
            return actions + self.advance(now)
        finally:
            c.depth -= 1

    def advance(self, now: datetime, before: datetime | None = None) -> list[Action]:
        """Fire every clock breach and ladder step due at or before now, in
        order; with `before`, only those due strictly before it (the ones
        that happened before an event at that instant)."""
        c = self.ctx
        outer = c.wall is None
        if outer:
            c.wall = now
        try:
            return self._advance(now, before)
        finally:
            if outer:
                c.wall = None

    def _advance(self, now: datetime, before: datetime | None) -> list[Action]:
        actions: list[Action] = []
        while not self.ctx.closed:
            due = self.ladder.next_due(now)
            if due is None:
                break
            kind, item = due
            if kind == "clock":
                assert isinstance(item, ClockState)
                if before is not None and item.deadline >= before:
                    break
                actions += self.clocks.breach(item, now)
            else:
                assert isinstance(item, PendingStep)
                if before is not None and item.due >= before:
                    break
                actions += self.ladder.run_due(item, now, self.steps.run)
        return actions
