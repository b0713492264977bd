"""Message templates with `{first_name}`-style fields.

The fields a template may use are fixed (`FIELDS`), so a typo or a field
the engine cannot fill is a load-time error, never a half-sent message.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

FIELDS = {
    "first_name": "the customer's first name",
    "customer_name": "the customer's full name",
    "customer_email": "the customer's email",
    "ticket_id": "the ticket's workflow id",
    "short_id": "the 8-character ticket id shown to customers",
    "conversation_id": "the Chatwoot conversation id",
    "owner_name": "the owner's full name",
    "owner_first_name": "the owner's first name",
    "expert": "the first name of the handoff target",
    "expert_name": "the full name of the handoff target",
    "target": "the handoff or page target's id",
    "team": "the handoff target's name",
    "timeframe": "the SLA timeframe of the clock or handoff in play",
    "reason": "the escalation reason",
    "severity": "the ticket's severity",
    "priority": "the ticket's priority",
    "urgency": "the ticket's urgency",
    "category": "the ticket's category",
    "ask_type": "the ticket's ask type",
    "issue_type": "the ticket's issue type",
    "level": "the escalation level",
    "level_name": "the escalation level's name",
    "clock": "the title of the clock in play",
    "deadline": "the deadline of the clock in play, local time",
    "summary": "a one-line summary of the ticket",
    "issue": "the escalation payload's issue summary",
    "attempted": "what was already tried (from the escalation payload)",
    "impact": "the impact (from the escalation payload)",
    "stage": "the ticket's stage",
    "resolution": "the resolution text",
    "handoff_title": "the title of the handoff in play",
    "payload": "the handoff's typed payload, one 'Field: value' line each",
    "by": "who did it (an escalation's requester, a decision's maker)",
}


def fields_of(template: str) -> list[str]:
    """The field names a template uses (ValueError if it does not parse)."""
    out = []
    for _, name, _spec, _conv in string.Formatter().parse(template):
        if name is None:
            continue
        if not name or not name.isidentifier():
            raise ValueError(f"field {{{name}}} is not a plain name")
        out.append(name)
    return out


def check_template(template: str) -> None:
    unknown = [f for f in fields_of(template) if f not in FIELDS]
    if unknown:
        raise ValueError(
            f"unknown field(s) {', '.join('{' + u + '}' for u in unknown)}; "
            f"known: {', '.join(sorted(FIELDS))}"
        )


class _Safe(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, context: Mapping[str, object]) -> str:
    """Fill a (load-time checked) template; an empty value renders as ''."""
    return string.Formatter().vformat(
        template, (), _Safe({k: "" if v is None else v for k, v in context.items()})
    )
