"""Who the ticket or a step is for.

Coverage picks the owner from the ticket's facts and the calendars that are
open (at intake, and for `target: coverage`); a step's `target` names a
party or a role -- owner, backup and backup2 of the owner when the step was
triggered, previous owner, a handoff's target or secondary. One place
resolves both, so a step's summary, its run and its "missed" record name
the same person.
"""

from __future__ import annotations

from datetime import datetime

from engine import business_time
from engine.conditions import holds
from engine.context import TicketContext
from models.policy import Step
from models.state import PendingStep


def coverage_owner(c: TicketContext, now: datetime) -> str:
    """The owner by the first coverage rule whose condition holds and whose
    calendar takes new tickets at `now`."""
    facts = c.facts()
    for rule in c.policy.coverage:
        if not holds(rule.when, facts):
            continue
        if rule.calendar is not None and not business_time.is_open(
            c.policy.calendars[rule.calendar], now, intake=True
        ):
            continue
        return rule.owner
    return c.policy.coverage[-1].owner  # the loader guarantees an unconditional fallback


def resolve_target(c: TicketContext, step: Step, pending: PendingStep) -> str | None:
    """The party a step goes to; None when its role has nobody (no backup)."""
    t = step.target
    anchor = pending.anchor_owner or c.state.owner

    def backup_of(pid: str | None) -> str | None:
        party = c.policy.party(pid) if pid else None
        return party.backup if party else None

    if t == "owner":
        return c.state.owner
    if t == "coverage":
        return coverage_owner(c, pending.due)
    if t == "backup":
        return backup_of(anchor)
    if t == "backup2":
        return backup_of(backup_of(anchor))
    if t == "previous_owner":
        return c.state.previous_owner
    if t in ("handoff_target", "secondary"):
        return pending.context.get(t if t == "secondary" else "target")
    return t
