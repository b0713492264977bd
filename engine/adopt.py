"""Opening a ticket for a conversation Chatwoot already has a history of.

The events of its `Adoption` (models/adoption.py) are applied at opening in
the order they happened, each at its own instant, after the deadlines due
strictly before it: what the ticket would have done had it run since the
conversation began (a reply at +5 minutes stops a 30-minute acknowledgment
clock; a customer waiting since +20 restarts a waiting clock from +20).
Each instant is kept between the ticket's opening and the real now. Notifying
steps that fell due meanwhile are judged against the real now (`max_catch_up`)
and, for customer messages, the pack's `adopt_messages_within`
(engine/ladder.py). An event the ticket refuses is recorded as refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from engine.context import Rejected
from models.actions import Action
from models.adoption import AdoptedEvent, Adoption

Advance = Callable[[datetime, datetime | None], list[Action]]
Receive = Callable[[AdoptedEvent, datetime], list[Action]]
Reject = Callable[[str, str, datetime], None]


def adopt(
    adoption: Adoption,
    opened: datetime,
    wall: datetime,
    advance: Advance,
    receive: Receive,
    reject: Reject,
) -> list[Action]:
    actions: list[Action] = []
    for at, event in placed(adoption, opened, wall):
        actions += advance(at, at)  # what was due strictly before it happened first
        try:
            actions += receive(event, at)
        except Rejected as exc:
            reject(event.kind, str(exc), at)
    return actions


def placed(
    adoption: Adoption, opened: datetime, wall: datetime
) -> list[tuple[datetime, AdoptedEvent]]:
    """The events in the order they happened, each at its instant clamped to
    [opened, wall] (one without an instant: at `wall`); ties keep their order."""
    out = []
    for event in adoption.events:
        at = event.occurred_at or wall
        out.append((min(max(at, opened), max(wall, opened)), event))
    out.sort(key=lambda p: p[0])  # stable
    return out
