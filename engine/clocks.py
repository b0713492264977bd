"""SLA clocks: armed, started, stopped, retargeted and breached.

A clock's deadline is an absolute instant in state (wall time, or business
time of a named calendar), never a relative timer that restarts and drifts.
Events stop, restart and arm clocks; an armed clock runs while its
condition holds and waits otherwise (`reconcile`), so a reclassification
moves the target of the SLA in force instead of starting a new one. A
breach records a marker, schedules the clock's `on_breach` ladder anchored
on the owner at that moment, and, for a repeating clock, starts the next
period (periods missed past `max_catch_up` become one record).

Tickets started before the `sop-event-orders` patch keep the earlier
rules (`on_event_v1`): a start event starts a clock only if its condition
holds right then, and a failing condition cancels it.
"""

from __future__ import annotations

from datetime import datetime

from engine import business_time
from engine.conditions import holds
from engine.context import TicketContext
from engine.ladder import Ladder
from engine.pages import Pages
from models.actions import Action
from models.durations import human_duration
from models.policy import ClockSpec
from models.state import ClockState, ClockStatus

# Events that change facts: in `starts_on` they arm a clock that was never
# armed, never one an agent already satisfied.
FACT_EVENTS = frozenset({"classified", "vip_set", "vip_removed"})


class Clocks:
    def __init__(self, ctx: TicketContext, ladder: Ladder, pages: Pages) -> None:
        self.ctx = ctx
        self.ladder = ladder
        self.pages = pages

    def deadline(self, spec: ClockSpec, start: datetime) -> datetime:
        if spec.calendar:
            return business_time.add_business(
                self.ctx.policy.calendars[spec.calendar], start, spec.duration
            )
        return start + spec.duration

    def _start_from(self, spec: ClockSpec, now: datetime) -> datetime:
        """What a clock counts from when it starts to run (`measure_from`)."""
        opened = self.ctx.state.opened_at
        return opened if spec.measure_from == "ticket_opened" and opened else now

    def start(self, name: str, spec: ClockSpec, now: datetime) -> None:
        prev = self.ctx.state.clocks.get(name)
        start = self._start_from(spec, now)
        self.ctx.state.clocks[name] = ClockState(
            name=name,
            title=spec.title,
            status="running",
            started_at=start,
            deadline=self.deadline(spec, start),
            business_calendar=spec.calendar,
            cycle=(prev.cycle + 1) if prev else 0,
        )

    def stop(self, name: str, now: datetime, status: ClockStatus) -> list[Action]:
        """Stop a clock (or set it aside: `waiting`): its pending ladder steps
        go, and the pages it raised are resolved."""
        s = self.ctx.state
        clock = s.clocks[name]
        clock.status, clock.stopped_at = status, now
        source = f"clock:{name}"
        s.pending = [p for p in s.pending if p.source != source]
        actions: list[Action] = []
        if self.ctx.policy.clocks[name].resolve_pages_on_stop:
            actions += self.pages.resolve(
                lambda p: p.source == source, now, f"{clock.title} satisfied"
            )
        return actions

    def breach(self, clock: ClockState, now: datetime) -> list[Action]:
        """The clock passed its deadline: on record, its `on_breach` ladder
        scheduled and run up to now."""
        c = self.ctx
        spec = c.policy.clocks[clock.name]
        at = clock.deadline
        if c.sop_orders and clock.activated_at is not None and clock.activated_at > at:
            # It began to run past its deadline: it breaches then, not before.
            at = clock.activated_at
        clock.status, clock.breached_at, clock.anchor_owner = "breached", at, c.state.owner
        c.state.facts["sla_breached"] = True
        c.log(at, f"clock:{clock.name}", "sla.breached", c.state.owner, f"{clock.title} breached")
        actions = [
            c.marker(
                "sla.breached",
                at,
                f"{clock.title} breached",
                c.state.owner,
                {"clock": clock.name, "deadline": at.isoformat(), "cycle": clock.cycle},
            )
        ]
        context = {
            "clock": clock.title,
            "timeframe": human_duration(spec.duration),
            "deadline": c.local(clock.deadline),
        }
        self.ladder.schedule(
            spec.on_breach,
            f"clock:{clock.name}",
            f"clock:{clock.name}:{clock.cycle}",
            at,
            clock.anchor_owner,
            context,
        )
        if spec.repeat:
            actions += self._next_period(clock, spec, at, now)
        return actions + c.reactor.advance(at)

    def _next_period(
        self, clock: ClockState, spec: ClockSpec, at: datetime, now: datetime
    ) -> list[Action]:
        """A repeating clock runs again from its breach; a backfill past
        `max_catch_up` skips to the current period with one record."""
        clock.status = "running"
        clock.started_at, clock.deadline = at, self.deadline(spec, at)
        clock.cycle += 1
        clock.breached_at = None
        skipped = 0
        # A backfill: one record, not one note per period.
        while self.ladder.too_late(clock.deadline, now):
            clock.started_at, clock.deadline = clock.deadline, self.deadline(spec, clock.deadline)
            clock.cycle += 1
            skipped += 1
        if not skipped:
            return []
        summary = f"{clock.title}: {skipped} period(s) missed, over the pack's max_catch_up"
        self.ctx.log(now, f"clock:{clock.name}", "repeat.missed", None, summary)
        return [
            self.ctx.marker(
                "ladder.missed",
                now,
                summary,
                None,
                {"clock": clock.name, "periods": skipped, "source": f"clock:{clock.name}"},
            )
        ]

    def on_event_v1(self, event: str, now: datetime) -> list[Action]:
        """Tickets started before `sop-event-orders`: a start event starts a
        clock only if its condition holds right then; a failing condition
        cancels it."""
        c = self.ctx
        actions: list[Action] = []
        facts = c.facts()  # clocks depend on the ticket's facts only
        for name, spec in c.policy.clocks.items():
            clock = c.state.clocks.get(name)
            active = clock is not None and clock.status in ("running", "breached")
            if active and event in spec.stops_on:
                actions += self.stop(name, now, "stopped")
                active = False
            elif (
                active
                and clock is not None  # implied by `active`; said again for the type checker
                and clock.status == "running"
                and event in spec.restart_on
            ):
                clock.started_at, clock.deadline = now, self.deadline(spec, now)
            if not active and event in spec.starts_on and holds(spec.when, facts) and not c.closed:
                self.start(name, spec, now)
        for name, clock in list(c.state.clocks.items()):
            if clock.status in ("running", "breached") and not holds(
                c.policy.clocks[name].when, facts
            ):
                actions += self.stop(name, now, "cancelled")
        return actions

    def on_event(self, event: str, now: datetime) -> list[Action]:
        """Stop, restart and arm clocks on an event, then let every armed
        clock run or wait as the ticket's facts now say."""
        c = self.ctx
        actions: list[Action] = []
        for name, spec in c.policy.clocks.items():
            clock = c.state.clocks.get(name)
            armed = clock is not None and clock.status in ("running", "waiting", "breached")
            if armed and event in spec.stops_on:
                actions += self.stop(name, now, "stopped")
                armed = False
            elif (
                armed
                and clock is not None  # implied by `armed`; said again for the type checker
                and clock.status == "running"
                and event in spec.restart_on
            ):
                clock.started_at, clock.deadline = now, self.deadline(spec, now)
            if armed or event not in spec.starts_on or c.closed:
                continue
            if event in FACT_EVENTS and clock is not None:
                continue  # a classification never revives a clock that already stopped
            c.state.clocks[name] = ClockState(
                name=name,
                title=spec.title,
                status="waiting",
                started_at=now,
                deadline=now,
                armed_at=now,
                business_calendar=spec.calendar,
                cycle=(clock.cycle + 1) if clock else 0,
            )
        return actions + self.reconcile(now)

    def reconcile(self, now: datetime) -> list[Action]:
        """An armed clock runs while its condition holds (and, if it is
        customer-facing, while the ticket is not silent), and waits
        otherwise. Starting to run re-derives the deadline from the clock's
        start (`measure_from`), so a reclassification moves the target of
        the SLA in force rather than starting a new one. A clock that
        breached and was set aside does not breach twice."""
        c = self.ctx
        actions: list[Action] = []
        facts, silent = c.facts(), c.silent()
        for name, clock in c.state.clocks.items():
            spec = c.policy.clocks.get(name)
            if spec is None:
                continue
            applies = holds(spec.when, facts) and not (spec.customer_facing and silent)
            if clock.status == "waiting" and applies and not c.closed:
                if clock.breached_at is not None:
                    clock.status = "breached"
                    continue
                start = self._start_from(spec, now)
                clock.status, clock.started_at, clock.activated_at = "running", start, now
                clock.deadline = self.deadline(spec, start)
            elif clock.status in ("running", "breached") and not applies:
                actions += self.stop(name, now, "waiting")
        return actions
