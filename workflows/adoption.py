"""A ticket the bridge starts for a conversation that began before ticketflow
heard of it reads what Chatwoot knows of it before it opens (behind
`adopt-at-opening`).

The bridge starts a ticket on whatever event of a conversation it gets
first. For a new conversation that is `conversation_created`; when it is a
later one (a customer's message on a conversation from before go-live, a
status change, a message after a lost `conversation_created`), the
conversation has a history: agents may have answered, the customer may be
waiting since a later message. The bridge says so (`TicketInput.read_history`)
and, when the conversation is more than `ADOPT_AFTER` old at the opening, the
ticket reads it (`chatwoot.read_adoption`, one local activity bounded to
`READ_BOUND`) and opens with it as reconciliation's tickets do
(models/adoption.py): a conversation answered before its deadline does not
start breached, and no catch-up message goes to the customer of a
conversation older than the pack's `adopt_messages_within`.

If Chatwoot does not answer in time the ticket opens with an empty adoption
read at the opening: its clocks still count from the conversation's creation
and page as they would have (each page after the reply check,
workflows/reply_check.py), and catch-up customer messages stay withheld, as
for any conversation that old. The ticket's log says the history was not read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.adoption import AdoptionActivities
    from models.adoption import Adoption
    from models.chatwoot import AdoptionInput
    from models.ticket_input import TicketInput
    from workflows.actions import ACTIVITY_FAILED, failure_message

# Younger than this at the opening, a conversation has no history worth a read: its
# `conversation_created` and first message are still arriving.
ADOPT_AFTER = timedelta(minutes=1)
READ_BOUND = timedelta(seconds=5)  # the opening waits at most this for Chatwoot


def reads_history(ticket: TicketInput, now: datetime) -> bool:
    """Whether this new ticket reads its conversation's history before opening."""
    return (
        ticket.read_history
        and ticket.adopted is None
        and ticket.created_at is not None
        and now - ticket.created_at > ADOPT_AFTER
    )


async def adopt_history(ticket: TicketInput, on: bool, now: Callable[[], datetime]) -> None:
    """Set `ticket.adopted` from Chatwoot when this new ticket reads its history
    (`on`: the run has `adopt-at-opening`)."""
    if on and reads_history(ticket, now()):
        ticket.adopted = await read_adoption(ticket, now)


async def read_adoption(ticket: TicketInput, now: Callable[[], datetime]) -> Adoption:
    """What Chatwoot knows of the ticket's conversation, read at the ticket's
    `now()` once it answered (the clock its deadlines are on; inside the task it
    is the read's end); empty when Chatwoot does not answer within READ_BOUND."""
    try:
        found = await workflow.execute_local_activity_method(
            AdoptionActivities.read_adoption,
            AdoptionInput(account_id=ticket.account_id, conversation_id=ticket.conversation_id),
            start_to_close_timeout=READ_BOUND,
            retry_policy=RetryPolicy(maximum_attempts=1),
            summary="What Chatwoot knows of this conversation before the ticket opens",
        )
    except ACTIVITY_FAILED as err:
        workflow.logger.warning(
            "opening without the conversation's history: Chatwoot did not answer",
            extra={"ticket": workflow.info().workflow_id, "error": failure_message(err)},
        )
        return Adoption(at=now())
    return found.model_copy(update={"at": now()})
