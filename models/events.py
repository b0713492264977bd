"""What a ticket receives, as one type: `TicketEvent`, a union of every
signal and update payload (and a handoff's report) discriminated by its
`kind`. The workflow, `simulate` (the workflow itself on the time-skipping
server) and the `whatif` replay all hand one to `TicketEngine.receive`; a
recorded input is read back through `EVENTS` by its kind.
"""

from __future__ import annotations

from typing import Annotated, Any, get_args

from pydantic import Field, TypeAdapter

from models.handoff import HandoffResponse, HandoffResult
from models.signals import (
    Acknowledged,
    AgentReplied,
    Classify,
    CustomerReplied,
    Escalate,
    PageUpdate,
    Reassign,
    Reopened,
    Resolved,
    StatusChanged,
    VipFlagChanged,
    WentLive,
)

TicketEvent = Annotated[
    Acknowledged
    | AgentReplied
    | CustomerReplied
    | Resolved
    | Reopened
    | Escalate
    | Reassign
    | Classify
    | VipFlagChanged
    | StatusChanged
    | HandoffResponse
    | PageUpdate
    | HandoffResult
    | WentLive,
    Field(discriminator="kind"),
]

EVENTS: TypeAdapter[TicketEvent] = TypeAdapter(TicketEvent)

# Each kind's payload type, by kind: the inbox names a recorded input is filed under.
KINDS: dict[str, type[Any]] = {
    cls.model_fields["kind"].default: cls for cls in get_args(get_args(TicketEvent)[0])
}


def event_of(kind: str, payload: dict[str, Any]) -> TicketEvent:
    """A recorded input's payload as the event it was (`kind` from its row)."""
    return EVENTS.validate_python({**payload, "kind": kind})
