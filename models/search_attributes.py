"""Custom search attributes that ticket workflows upsert.

They let the Temporal Web UI and `ticketflow list` filter tickets, e.g.
`TicketVip = true AND SlaState = "breached" AND TicketOwner = "lola"`.
`ticketflow dev` and `ticketflow setup` register them with the server.
"""

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from models.ticket import Ticket

TICKET_ID = SearchAttributeKey.for_keyword("TicketId")
TICKET_POLICY = SearchAttributeKey.for_keyword("TicketPolicy")
TICKET_OWNER = SearchAttributeKey.for_keyword("TicketOwner")
TICKET_STAGE = SearchAttributeKey.for_keyword("TicketStage")
SLA_STATE = SearchAttributeKey.for_keyword("SlaState")
TICKET_VIP = SearchAttributeKey.for_bool("TicketVip")
ESCALATION_LEVEL = SearchAttributeKey.for_int("EscalationLevel")

ALL = (
    TICKET_ID,
    TICKET_POLICY,
    TICKET_OWNER,
    TICKET_STAGE,
    SLA_STATE,
    TICKET_VIP,
    ESCALATION_LEVEL,
)


def initial_search_attributes(workflow_id: str, ticket: Ticket) -> TypedSearchAttributes:
    """What is known before the ticket runs, set in the start request itself
    so the Web UI can filter a ticket from its first second (the workflow
    upserts the rest, owner, stage, SLA state, as it decides them)."""
    vip = bool(ticket.contact.vip or "vip" in ticket.labels)
    return TypedSearchAttributes(
        [
            SearchAttributePair(TICKET_ID, workflow_id),
            SearchAttributePair(TICKET_POLICY, ticket.policy),
            SearchAttributePair(TICKET_VIP, vip),
        ]
    )
