"""What a page tells the person it wakes: its PagerDuty `custom_details`.

Who the customer is (and whether VIP), which pack and which clock, that
clock's deadline and how late the ticket is, and who is paged next and
when if nobody acts. The link to the console's ticket page is not here: it
needs the console's address, a setting, which the PagerDuty activity adds
(activities/pagerduty.py).

Pure and computed from state at the page's instant, so a replay gets the
same details. The deadline a page is about:
- a clock's ladder: the instant the clock breached (the step's due instant
  less its `after`);
- a handoff's ladder on the ticket: the handoff's answer deadline;
- a handoff workflow's own ladder: the deadline it was given
  (`TicketContext.answer_due`);
- a rule's: the ticket's most pressing clock (breached first, else the
  soonest running deadline), if any.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.conditions import holds
from engine.context import TicketContext
from engine.targets import resolve_target
from engine.ticket_ids import short_id
from models.durations import human_duration
from models.state import PendingStep


def page_details(c: TicketContext, pending: PendingStep, at: datetime) -> dict[str, Any]:
    """The details of the page `pending` raises at `at` (JSON-ready)."""
    s, t = c.state, c.state.ticket
    wid = c.ticket_workflow_id
    customer = t.contact.name or f"conversation {t.conversation_id}"
    if t.contact.email:
        customer += f" <{t.contact.email}>"
    clock, deadline = _deadline(c, pending)
    now = max(at, c.wall or at)
    details: dict[str, Any] = {
        "ticket": wid,
        "short_id": short_id(wid),
        "conversation_id": t.conversation_id,
        "customer": customer,
        "vip": bool(c.facts().get("vip")),
        "pack": c.policy.name,
        "clock": clock,
        "deadline": c.local(deadline) if deadline else None,
        "late_by": _lateness(deadline, now),
        "next_page": _next_page(c, pending, now),
        "owner": s.owner,
        "stage": s.stage,
        "source": pending.source,
    }
    return details


def _deadline(c: TicketContext, pending: PendingStep) -> tuple[str | None, datetime | None]:
    """(what the deadline is, the instant) the page is about."""
    s, source = c.state, pending.source
    if source.startswith("clock:"):
        name = source.removeprefix("clock:")
        clock = s.clocks.get(name)
        title = pending.context.get("clock") or (clock.title if clock else name)
        return str(title), pending.due - pending.step.after
    handoff = s.handoffs.get(source.removeprefix("handoff:"))
    if handoff is not None:
        return f"Handoff: {handoff.title}", handoff.deadline
    if c.answer_due is not None:
        return c.answer_due
    breached = [k for k in s.clocks.values() if k.status == "breached"]
    if breached:
        first = min(breached, key=lambda k: (k.breached_at or k.deadline, k.name))
        return first.title, first.breached_at or first.deadline
    running = [k for k in s.clocks.values() if k.status == "running"]
    if running:
        soonest = min(running, key=lambda k: (k.deadline, k.name))
        return soonest.title, soonest.deadline
    return None, None


def _lateness(deadline: datetime | None, now: datetime) -> str | None:
    """`35 minutes` past the deadline, or `not yet (20 minutes left)`."""
    if deadline is None:
        return None
    if now < deadline:
        return f"not yet ({human_duration(deadline - now, approx=True)} left)"
    return human_duration(now - deadline, approx=True)


def _next_page(c: TicketContext, pending: PendingStep, now: datetime) -> str:
    """Who the ladder pages next and when, as far as state knows now; its
    condition is judged as of its due instant."""
    steps = sorted(
        (p for p in c.state.pending if p.step.do == "page" and p.id != pending.id),
        key=lambda p: p.due,
    )
    for p in steps:
        target = resolve_target(c, p.step, p) if p.step.target else None
        if target is None or not holds(p.step.when, c.facts(p.context, at=p.due)):
            continue
        unless = ", unless this page is acknowledged first" if p.source == pending.source else ""
        if p.due <= now:
            return f"{c.name(target)} now ({c.local(p.due)})"
        wait = human_duration(p.due - now, approx=True)
        return f"{c.name(target)} at {c.local(p.due)}, in {wait}{unless}"
    return "nobody: no further page is scheduled"
