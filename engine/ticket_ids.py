"""The ids a ticket is known by outside its workflow: the short id customers
see (`Ticket #AB12CD34`) and the customer's uuid in audit rows.

Both are derived (uuid5 in ticketflow's namespace), never stored or drawn,
so the workflow, the simulator and the console compute the same ones from
the same input, and a replay gets them again.
"""

from __future__ import annotations

import uuid

from models.ticket import Ticket

_NS = uuid.UUID("5b6f1d8e-2c1a-4c7e-9a51-7f3c0e9d4a10")  # ticketflow's uuid5 namespace


def short_id(workflow_id: str) -> str:
    """The 8-character ticket id shown to customers (`Ticket #AB12CD34`)."""
    return uuid.uuid5(_NS, workflow_id).hex[:8].upper()


def customer_uuid(ticket: Ticket) -> str:
    """The customer's uuid: Chatwoot's `customer_id` attribute when present,
    else a stable one derived from the account and contact."""
    if ticket.contact.customer_id:
        try:
            return str(uuid.UUID(ticket.contact.customer_id))
        except ValueError:
            pass
    basis = (
        f"{ticket.account_id}:{ticket.contact.id or ticket.contact.email or ticket.conversation_id}"
    )
    return str(uuid.uuid5(_NS, basis))
