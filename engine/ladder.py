"""The ladder: steps scheduled at absolute instants, and what is due next.

A breach, a rule, a handoff's start each schedule their steps (`after` their
trigger) as pending entries in state, with the owner at that moment as the
anchor for `backup`. Time then takes them in order with the clocks'
deadlines. Catch-up lives here too: a step found due more than the pack's
`max_catch_up` late (a worker that was down, a ticket started long after its
conversation) is recorded as missed if it would tell someone something, and
still runs, as of now, if it keeps state (assign, label, level, a handoff).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Literal

from engine.conditions import holds
from engine.context import TicketContext
from engine.targets import resolve_target
from engine.template_fields import template_context
from engine.templates import render
from models.actions import Action
from models.durations import human_duration
from models.policy import Step
from models.state import ClockState, PendingStep

# Steps that tell people something: past `max_catch_up` they are recorded
# as missed instead of sent. Steps that keep state (assign, label, stage,
# level, audit, handoff, close ...) still run late.
NOTIFYING_STEPS = frozenset({"page", "message", "note", "slack", "email"})

# Why a missed step was not sent, in its summary.
CATCH_UP_WHY = "over the pack's max_catch_up"
ADOPTED_WHY = "before the ticket adopted a conversation older than adopt_messages_within"

# What falls due: a running clock's deadline (a breach) or a pending step.
DueKind = Literal["clock", "step"]


class Ladder:
    def __init__(self, ctx: TicketContext) -> None:
        self.ctx = ctx

    def schedule(
        self,
        steps: Iterable[Step],
        source: str,
        id_base: str,
        at: datetime,
        anchor: str | None,
        context: dict[str, Any],
    ) -> None:
        for i, step in enumerate(steps):
            self.ctx.state.pending.append(
                PendingStep(
                    id=f"{id_base}:{i}",
                    source=source,
                    due=at + step.after,
                    step=step,
                    anchor_owner=anchor,
                    context=context,
                )
            )

    def next_due(self, now: datetime) -> tuple[DueKind, ClockState | PendingStep] | None:
        """The earliest running clock deadline or pending step due at or before now."""
        best: tuple[datetime, DueKind, ClockState | PendingStep] | None = None
        for c in self.ctx.state.clocks.values():
            if (
                c.status == "running"
                and c.deadline <= now
                and (best is None or c.deadline < best[0])
            ):
                best = (c.deadline, "clock", c)
        for p in self.ctx.state.pending:
            if p.due <= now and (best is None or p.due < best[0]):
                best = (p.due, "step", p)
        return (best[1], best[2]) if best else None

    def too_late(self, due: datetime, now: datetime) -> bool:
        return self.ctx.sop_orders and (self.ctx.wall or now) - due > self.ctx.policy.max_catch_up

    def before_adoption(self, due: datetime) -> bool:
        """A customer message due before this ticket adopted a conversation that was
        older than the pack's `adopt_messages_within` then (models/adoption.py)."""
        t = self.ctx.state.ticket
        if t.adopted is None or due >= t.adopted.at:
            return False
        age = t.adopted.at - (t.created_at or t.adopted.at)
        return age > self.ctx.policy.adopt_messages_within

    def run_due(
        self, item: PendingStep, now: datetime, run: Callable[[PendingStep], list[Action]]
    ) -> list[Action]:
        """Take a due step off the ladder and `run` it -- or, past `max_catch_up`,
        record it as missed (a notifying step) or run it as of now."""
        self.ctx.state.pending.remove(item)
        if item.step.do == "message" and self.before_adoption(item.due):
            return self.missed(item, self.ctx.wall or now, ADOPTED_WHY)
        if not self.too_late(item.due, now):
            return run(item)
        if item.step.do in NOTIFYING_STEPS:
            return self.missed(item, self.ctx.wall or now)
        # state still moves (assign, label, level, a handoff ...), as of now
        return run(item.model_copy(update={"due": self.ctx.wall or now}))

    def missed(self, pending: PendingStep, now: datetime, why: str = CATCH_UP_WHY) -> list[Action]:
        """A notifying step overdue past `max_catch_up` (or a customer message due
        before an old conversation was adopted): on record, not sent."""
        c, step = self.ctx, pending.step
        if not holds(step.when, c.facts(pending.context, at=pending.due)):
            return []
        target = resolve_target(c, step, pending) if step.target else None
        what = f" {step.template or step.label}" if step.template or step.label else ""
        late = human_duration(now - pending.due, approx=True)
        summary = (
            f"Missed {step.do}{what}{' to ' + c.name(target) if target else ''}: due "
            f"{c.local(pending.due)}, {late} ago ({why})"
        )
        c.log(now, pending.source, f"{step.do}.missed", target, summary)
        return [
            c.marker(
                "ladder.missed",
                now,
                summary[:300],
                target,
                {
                    "step": step.do,
                    "source": pending.source,
                    "due": pending.due.isoformat(),
                    "template": step.template,
                },
            )
        ]

    def describe(self, p: PendingStep) -> str:
        """A pending step for the Web UI's timer summary: `source → what`."""
        c = self.ctx
        target = resolve_target(c, p.step, p) if p.step.target else None
        if p.step.summary:
            what = render(p.step.summary, template_context(c, {**p.context, "target": target}))
        else:
            who = c.name(target) if target else (p.step.template or p.step.label or "")
            what = f"{p.step.do} {who}"
        return f"{p.source} → {what.strip()}"
