"""Who and what a ticket is about, for people scanning a list of them.

A shift lead tells two breached VIP tickets apart by the customer's name
and, for e-mail, the subject; a workflow id says neither. The card is set
as the ticket workflow's *memo* in its start request
(`client.gateway.for_web_ui`, which every place that starts a ticket
uses), because Temporal returns memos with every visibility list at no
extra cost: the console board names a page of tickets without asking a
single worker. The ticket's `status` query carries the same card, built
from what the ticket started with, for tickets started before the memo.

Never message content: the contact's name, the conversation's subject
(Chatwoot's e-mail channels), its inbox and channel, when it was created.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from models.ticket import Ticket

MEMO_KEY = "ticket"
TEXT_MAX = 200  # a name or subject longer than this is cut: a list shows one line

# Chatwoot's channel types (an inbox's `channel_type`) as people say them.
CHANNELS = {
    "Channel::Email": "Email",
    "Channel::WebWidget": "Web chat",
    "Channel::Api": "API",
    "Channel::Whatsapp": "WhatsApp",
    "Channel::Sms": "SMS",
    "Channel::TwilioSms": "SMS",
    "Channel::FacebookPage": "Facebook",
    "Channel::Instagram": "Instagram",
    "Channel::TwitterProfile": "Twitter",
    "Channel::Telegram": "Telegram",
    "Channel::Line": "LINE",
}


def one_line(text: object, limit: int = TEXT_MAX) -> str | None:
    """Text as one short line (or None when there is none): a subject's
    line breaks, a lone surrogate or 5 KB of name cannot stretch a row."""
    if not isinstance(text, str):
        return None
    clean = " ".join(text.encode("utf-8", "replace").decode("utf-8").split())
    return clean[:limit] or None


class TicketCard(BaseModel):
    customer: str | None = None  # the Chatwoot contact's name
    subject: str | None = None  # e-mail channels only
    channel: str | None = None  # Chatwoot's channel type, e.g. "Channel::Email"
    inbox_id: int | None = None
    inbox_name: str | None = None  # message webhooks carry it; conversation ones only the id
    opened_at: datetime | None = None  # when Chatwoot created the conversation
    vip: bool = False

    @classmethod
    def of(cls, ticket: Ticket, opened_at: datetime | None = None) -> TicketCard:
        """The card of a ticket as it started; `opened_at` when Chatwoot's
        creation time is unknown."""
        return cls(
            customer=one_line(ticket.contact.name),
            subject=one_line(ticket.subject),
            channel=one_line(ticket.channel, 64),
            inbox_id=ticket.inbox_id,
            inbox_name=one_line(ticket.inbox_name, 100),
            opened_at=ticket.created_at or opened_at,
            vip=bool(ticket.contact.vip or "vip" in ticket.labels),
        )

    def memo(self) -> dict[str, Any]:
        """The start request's `memo`."""
        return {MEMO_KEY: self.model_dump(mode="json", exclude_none=True)}

    @classmethod
    def from_memo(cls, memo: Mapping[str, Any] | None) -> TicketCard | None:
        """The card in a decoded memo; None for a ticket started without one (or a foreign memo)."""
        raw = (memo or {}).get(MEMO_KEY)
        if not isinstance(raw, Mapping):
            return None
        try:
            return cls.model_validate(raw)
        except ValidationError:
            return None

    @property
    def channel_label(self) -> str | None:
        if not self.channel:
            return None
        return CHANNELS.get(self.channel, self.channel.removeprefix("Channel::"))

    @property
    def inbox_label(self) -> str | None:
        if self.inbox_name:
            return self.inbox_name
        return f"inbox #{self.inbox_id}" if self.inbox_id else None
