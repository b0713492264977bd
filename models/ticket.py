"""A ticket: the Chatwoot conversation facts a ticket workflow starts from."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from models.adoption import Adoption
from models.compact import CompactModel


class Contact(CompactModel):
    """The Chatwoot contact behind a conversation."""

    id: int | None = None
    name: str = ""
    email: str | None = None
    vip: bool = False
    founder_personal: bool = False
    customer_id: str | None = None  # the business's own customer uuid, if Chatwoot carries it

    @property
    def first_name(self) -> str:
        return (self.name or "there").split()[0]


class Ticket(CompactModel):
    """What is known about the conversation when its ticket starts."""

    account_id: int = Field(ge=1)
    conversation_id: int = Field(ge=1)  # Chatwoot display id
    policy: str = Field(min_length=1)
    contact: Contact = Field(default_factory=Contact)
    labels: list[str] = Field(default_factory=list)
    custom_attributes: dict[str, object] = Field(default_factory=dict)
    ask_type: str | None = None
    inbox_id: int | None = None
    created_at: datetime | None = None  # when Chatwoot created the conversation
    # What people scanning a list need to tell tickets apart (models/ticket_card.py),
    # as Chatwoot's webhook says it; never message content.
    subject: str | None = None  # the e-mail subject (`additional_attributes.mail_subject`)
    channel: str | None = None  # the inbox's channel type, e.g. "Channel::Email"
    inbox_name: str | None = None
    # The conversation's page in Chatwoot, set by whoever starts the ticket when
    # Chatwoot's address is known (workflows never read settings): the Web UI board links it.
    conversation_url: str | None = None
    # Set when the ticket starts for a conversation that already has a history in
    # Chatwoot (models/adoption.py): the engine applies it at opening.
    adopted: Adoption | None = None


def ticket_workflow_id(account_id: int, conversation_id: int) -> str:
    """One workflow per Chatwoot conversation: a second start is not a second ticket."""
    return f"ticket-{account_id}-{conversation_id}"
