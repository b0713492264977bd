"""What a template or a handoff payload reads from the ticket.

Templates may use only the fields listed in `engine.templates.FIELDS`
(checked when a pack loads); this is where each of them gets its value for
one ticket, and where a handoff payload's `source:` fields are filled from.
Kept apart from the steps that render them so the names people read (the
owner's first name, the target's team) are decided in one place.
"""

from __future__ import annotations

from typing import Any

from engine.context import TicketContext
from engine.ticket_ids import short_id


def payload_context(c: TicketContext) -> dict[str, Any]:
    """The values a handoff payload field can take from the ticket (`source:`)."""
    t = c.state.ticket
    return {
        "conversation_id": t.conversation_id,
        "customer_id": c.state.facts.get("customer_id"),
        "customer_name": t.contact.name,
        "vip": c.state.facts.get("vip"),
        "founder_personal": c.state.facts.get("founder_personal"),
        "ticket_id": c.ticket_workflow_id,
        "short_id": short_id(c.ticket_workflow_id),
        "urgency": c.state.facts.get("urgency"),
        "summary": f"{t.contact.name or 'Customer'} — conversation {t.conversation_id}",
        "customer_email": t.contact.email,
    }


def template_context(c: TicketContext, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every template field for this ticket, with an event's or step's context on top."""
    s, t = c.state, c.state.ticket
    owner = c.policy.party(s.owner) if s.owner else None
    ctx: dict[str, Any] = {
        "first_name": t.contact.first_name,
        "customer_name": t.contact.name or "the customer",
        "customer_email": t.contact.email,
        "ticket_id": c.ticket_workflow_id,
        "short_id": short_id(c.ticket_workflow_id),
        "conversation_id": t.conversation_id,
        "owner_name": owner.name if owner else s.owner,
        "owner_first_name": owner.first_name if owner else s.owner,
        "stage": s.stage,
        "severity": s.facts.get("severity"),
        "priority": s.facts.get("priority"),
        "urgency": s.facts.get("urgency"),
        "category": s.facts.get("category"),
        "ask_type": s.facts.get("ask_type"),
        "issue_type": s.facts.get("issue_type"),
        "level": s.level,
        "level_name": c.policy.levels.get(s.level, ""),
        "resolution": s.resolution,
    }
    extra = extra or {}
    target = extra.get("target") or s.facts.get("escalated_to")
    tp = c.policy.party(target) if target else None
    ctx.update(
        {
            "target": target,
            "expert": tp.first_name if tp else target,
            "expert_name": tp.name if tp else target,
            "team": tp.name if tp else target,
        }
    )
    ctx["timeframe"] = s.facts.get("timeframe")  # a pack may set it per priority/urgency
    for key in (
        "reason",
        "timeframe",
        "clock",
        "deadline",
        "issue",
        "attempted",
        "impact",
        "summary",
        "handoff_title",
        "payload",
        "by",
    ):
        if extra.get(key) is not None:
            ctx[key] = extra[key]
    ctx.setdefault("summary", f"{t.contact.name or 'Customer'} — conversation {t.conversation_id}")
    if ctx.get("by"):
        ctx["by"] = c.name(ctx["by"])  # people read names; audit rows keep the id
    return ctx
