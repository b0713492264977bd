"""Finding a ticket by what a person has in hand: its workflow id
(`ticket-1-42`), its Chatwoot conversation number (`42`), or the short id
a page's summary and the customer's messages print (`AB12CD34`, `#AB12CD34`,
`[AB12CD34]`). The CLI (`ticketflow show AB12CD34`) and the console's search
box both use it.

A short id is a hash of the workflow id (engine/ticket_ids.py), so it
cannot be turned back: it is found by listing tickets through visibility
(ids only: one list call per 1,000 tickets) and hashing each, open tickets
first, then finished ones. A number is a conversation first; an 8-digit
number that is no conversation's ticket is then tried as a short id
(`#12345678` is a short id only).
"""

from __future__ import annotations

import re

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from engine.ticket_ids import short_id
from models.ticket import ticket_workflow_id

_SHORT = re.compile(r"^#?\[?([0-9A-Fa-f]{8})\]?$")
_OPEN = "WorkflowType = 'TicketWorkflow' AND ExecutionStatus = 'Running'"
_FINISHED = "WorkflowType = 'TicketWorkflow' AND ExecutionStatus != 'Running'"
MAX_SCANNED = 200_000  # tickets hashed per search, at most (a bound on one lookup's cost)


class TicketNotFound(LookupError):
    """No ticket answers to that; the message says what was tried."""


class AmbiguousTicket(LookupError):
    """More than one ticket has that short id; the message names them."""


def as_short_id(text: str) -> str | None:
    """`AB12CD34` from `ab12cd34`, `#AB12CD34` or `[AB12CD34]`; None if it is no short id."""
    m = _SHORT.match(text.strip())
    return m.group(1).upper() if m else None


async def _exists(client: Client, wid: str) -> bool:
    try:
        await client.get_workflow_handle(wid).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def by_short_id(client: Client, short: str) -> list[str]:
    """The workflow ids whose short id is `short`: open tickets', else finished ones'."""
    scanned = 0
    for query in (_OPEN, _FINISHED):
        found: list[str] = []
        async for wf in client.list_workflows(query, page_size=1000):
            scanned += 1
            if short_id(wf.id) == short and wf.id not in found:
                found.append(wf.id)
            if scanned >= MAX_SCANNED:
                return found
        if found:
            return found
    return []


async def find_ticket(client: Client, text: str, account_id: int | None) -> str:
    """The workflow id `text` names (see the module's docstring). Raises
    TicketNotFound or AmbiguousTicket with a message for a person."""
    text = text.strip()
    if not text:
        raise TicketNotFound("no ticket given: a workflow id, a conversation number or a short id")
    short = as_short_id(text)
    if text.isdigit():
        wid = ticket_workflow_id(account_id or 1, int(text))
        if int(text) > 0 and await _exists(client, wid):
            return wid
        if short is None:
            raise TicketNotFound(f"no such ticket for conversation {text} (no workflow {wid})")
    elif short is None:
        if await _exists(client, text):
            return text
        raise TicketNotFound(f"no such ticket: {text}")
    assert short is not None
    found = await by_short_id(client, short)
    if not found:
        raise TicketNotFound(f"no such ticket: none has the short id {short}")
    if len(found) > 1:
        raise AmbiguousTicket(
            f"{len(found)} tickets have the short id {short}: {', '.join(found)}; "
            "give the workflow id"
        )
    return found[0]
