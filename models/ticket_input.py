"""The one input of TicketWorkflow."""

from __future__ import annotations

from pydantic import BaseModel, Field

from models.policy import Policy
from models.state import TicketState
from models.ticket import Ticket


class TicketCarry(BaseModel):
    """What continue-as-new carries to the next run: the state and the
    policy the ticket pinned when it started."""

    state: TicketState
    policy: Policy
    # The last `ticket_inputs` seq written (workflows/inputs.py); None: this
    # ticket's inputs are not recorded (it opened before `ticket-inputs`).
    inputs_seq: int | None = None


class TicketInput(Ticket):
    """The conversation's facts plus how to run the ticket.

    `clock_offset_seconds` is added to `workflow.now()` everywhere the ticket
    reads the time. It is 0 in production; `ticketflow simulate` sets it so a
    scenario dated in the past (or on a fixed weekday) runs on a test server
    whose clock starts at the real current time.
    """

    clock_offset_seconds: float = 0.0
    # Set by the event that starts a ticket again after it closed (a reopen, a
    # new incoming message): this life's action keys, PagerDuty dedup keys and
    # handoff ids are namespaced with it, so they never collide with an earlier
    # life's (a message keyed like the closed run's would be skipped as sent).
    life: str | None = Field(default=None, max_length=48, pattern=r"^[A-Za-z0-9]+$")
    carry: TicketCarry | None = None
    # Set by the bridge when an event later than the conversation's creation starts
    # the ticket (a message, a status change): the conversation may already have a
    # history, which the ticket reads before it opens (workflows/adoption.py).
    read_history: bool = False
    # Continue-as-new once history reaches this many events (or when Temporal suggests it).
    continue_as_new_after: int = Field(default=4000, ge=100)

    def ticket(self) -> Ticket:
        """The conversation's facts as a plain `Ticket`. It shares this input's
        values (contact, labels, attributes) rather than copying them: the
        input stays alive as long as the ticket (the SDK keeps a run's
        arguments), and neither the engine nor the workflow changes a ticket
        in place. Already validated as this input, so not validated again."""
        return Ticket.model_construct(**{name: getattr(self, name) for name in Ticket.model_fields})
