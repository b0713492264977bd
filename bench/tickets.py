"""The tickets the bench opens: a Chatwoot `conversation_created` body for
the bridge, or a TicketInput for a direct start, both a VIP on the
vip-concierge pack, created at a chosen time (a ticket created "30 minutes
ago, minus a few seconds" reaches its acknowledgment deadline seconds from
now)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.ticket import Contact
from models.ticket_input import TicketInput

POLICY = "vip-concierge"
ACK_SLA = timedelta(minutes=30)  # the VIP pack's first-acknowledgment clock


def now() -> datetime:
    return datetime.now(UTC)


def webhook_body(conv_id: int, created: datetime) -> dict:
    """A `conversation_created` body shaped like Chatwoot's (VIP contact)."""
    ts = int(created.timestamp())
    return {
        "event": "conversation_created",
        "id": conv_id,
        "inbox_id": 1,
        "status": "open",
        "labels": [],
        "custom_attributes": {},
        "channel": "Channel::Email",
        "messages": [
            {
                "id": conv_id * 10,
                "content": "Hello",
                "account_id": 1,
                "inbox_id": 1,
                "conversation_id": conv_id,
                "message_type": 0,
                "created_at": ts,
                "private": False,
            }
        ],
        "meta": {
            "sender": {
                "id": conv_id,
                "name": "Bench Customer",
                "email": f"c{conv_id}@example.com",
                "type": "contact",
                "custom_attributes": {"vip": True},
                "additional_attributes": {},
            },
            "assignee": None,
        },
        "created_at": ts,
        "timestamp": ts,
    }


def ticket(conv_id: int, created: datetime) -> TicketInput:
    return TicketInput(
        account_id=1,
        conversation_id=conv_id,
        policy=POLICY,
        inbox_id=1,
        created_at=created,
        contact=Contact(
            id=conv_id, name="Bench Customer", email=f"c{conv_id}@example.com", vip=True
        ),
    )
