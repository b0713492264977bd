"""What Chatwoot already knew when a ticket started for an existing conversation.

At go-live (and whenever reconciliation starts a ticket it missed) the
conversation may be hours old: agents already replied, the customer may be
waiting since a later message, the conversation may be pending. `Adoption`
carries those facts as the events they were, each at its original instant
(Chatwoot's `created_at`), with the event ids the bridge gives them
(`message:<id>`, `status:<status>:<timestamp>`), so a webhook or a
reconciliation pass that brings one again is a no-op. The engine applies
them in order at opening, each after the deadlines due strictly before it
(engine/adopt.py): a conversation answered at +5 minutes whose ticket starts
at +40 is not breached.

`at` is when Chatwoot was read (about when the ticket started): a customer
message that fell due before it is sent only when the conversation was then
younger than the pack's `adopt_messages_within`; otherwise it is recorded as
missed. No message body is ever kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from models.compact import CompactModel
from models.signals import AgentReplied, CustomerReplied, Resolved, StatusChanged

# At most this many events: runs of one kind are cut to their first and last
# (starter/chatwoot_history.py), so this bounds a long thread, not a short one.
MAX_ADOPTED_EVENTS = 40

# The life under which `ticketflow import chatwoot` records a past conversation
# in `ticket_inputs`: never the life of a ticket that ran (those are "" or a
# reopen's id), so an import never takes a live ticket's rows, nor they its.
IMPORTED_LIFE = "imported"

AdoptedEvent = Annotated[
    AgentReplied | CustomerReplied | StatusChanged | Resolved,
    Field(discriminator="kind"),
]


class Adoption(CompactModel):
    at: datetime  # when Chatwoot's history was read
    events: list[AdoptedEvent] = Field(default_factory=list, max_length=MAX_ADOPTED_EVENTS)
