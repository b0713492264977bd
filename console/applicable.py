"""Which actions a ticket's page offers, and one line on why each other one is
not offered: no Reopen on an open ticket, no handoff answer when none is
open, no Acknowledge once someone has.

The rules follow the ticket's update validators (workflows/ticket.py, and
the engine checks they call) from the ticket's `status`; the validators stay
the final word, so a page a moment out of date still gets their refusal,
shown next to the action. Where this table is stricter than a validator, it
is because the action would do nothing: a second acknowledgement is
accepted and ignored, acknowledging a resolved ticket stops no clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from client.tickets import when
from models.status import TicketStatus

ACTIONS = ("acknowledge", "request_escalation", "decide", "reassign_to", "resolve", "reopen")
LABELS = {
    "acknowledge": "Acknowledge",
    "request_escalation": "Escalate",
    "decide": "Answer a handoff",
    "reassign_to": "Reassign",
    "resolve": "Resolve",
    "reopen": "Reopen",
}


@dataclass(frozen=True)
class Verdict:
    action: str
    reason: str | None = None  # None: the page offers it

    @property
    def offered(self) -> bool:
        return self.reason is None

    @property
    def label(self) -> str:
        return LABELS[self.action]


def _whole_ticket(s: TicketStatus) -> str | None:
    """Why nothing at all applies (the validators' `_validate`)."""
    if s.stage == "closed":
        return "the ticket is closed; nothing changes it now"
    if s.stage == "policy_error":
        return "the ticket's pack could not be loaded" + (f": {s.error}" if s.error else "")
    if s.stage == "starting":
        return "the ticket is still starting; reload in a moment"
    return None


def _reason(action: str, s: TicketStatus, escalation_reasons: list[str]) -> str | None:
    resolved = s.stage == "resolved"
    if action == "acknowledge":
        if s.acknowledged_at is not None:
            return (
                f"already acknowledged by {s.acknowledged_by or 'someone'} "
                f"at {when(s.acknowledged_at, s)}"
            )
        return "the ticket is resolved" if resolved else None
    if action == "request_escalation":
        if resolved:
            return "a resolved ticket cannot be escalated; reopen it first"
        return None if escalation_reasons else f"the {s.policy} pack has no escalation reasons"
    if action == "decide":
        return None if s.open_handoffs else "no handoff is open"
    if action == "resolve":
        return "the ticket is already resolved" if resolved else None
    if action == "reopen":
        return None if resolved else f"only a resolved ticket can be reopened (it is {s.stage})"
    return None  # reassign_to: any ticket that is not closed


def verdicts(s: TicketStatus, escalation_reasons: list[str]) -> dict[str, Verdict]:
    """Every console action for this ticket, offered or with the reason it is not."""
    whole = _whole_ticket(s)
    return {a: Verdict(a, whole or _reason(a, s, escalation_reasons)) for a in ACTIONS}
