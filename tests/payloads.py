"""Chatwoot webhook payloads shaped like the real ones (see Chatwoot's
webhook-events documentation): conversation fields at the top level,
message events with the conversation nested."""

from __future__ import annotations

import copy


def conversation(
    event: str = "conversation_created",
    *,
    conv_id: int = 101,
    account_id: int = 1,
    vip: bool = True,
    name: str = "Dana Whitfield",
    email: str = "dana@example.com",
    labels: list[str] | None = None,
    status: str = "open",
    inbox_id: int = 1,
    custom_attributes: dict | None = None,
    **extra,
) -> dict:
    body = {
        "event": event,
        "id": conv_id,
        "inbox_id": inbox_id,
        "status": status,
        "labels": labels or [],
        "custom_attributes": custom_attributes or {},
        "can_reply": True,
        "channel": "Channel::Email",
        "contact_inbox": {"id": 12, "contact_id": 12, "inbox_id": inbox_id, "source_id": "x"},
        "messages": [
            {
                "id": 120,
                "content": "Hello",
                "account_id": account_id,
                "inbox_id": inbox_id,
                "conversation_id": conv_id,
                "message_type": 0,
                "created_at": 1763398800,
                "private": False,
            }
        ],
        "meta": {
            "sender": {
                "id": 12,
                "name": name,
                "email": email,
                "type": "contact",
                "custom_attributes": {"vip": vip},
                "additional_attributes": {},
            },
            "assignee": None,
        },
        "unread_count": 1,
        "created_at": 1763398800,
        "timestamp": 1763398800,
    }
    body.update(extra)
    return body


def message(
    message_type: str = "incoming",
    *,
    conv_id: int = 101,
    account_id: int = 1,
    msg_id: int = 500,
    sender_type: str = "contact",
    sender_name: str = "Dana Whitfield",
    sender_email: str | None = None,
    private: bool = False,
    content: str = "any news?",
    content_attributes: dict | None = None,
) -> dict:
    conv = conversation(conv_id=conv_id, account_id=account_id)
    conv.pop("event")
    return {
        "event": "message_created",
        "id": msg_id,
        "content": content,
        "created_at": "2026-11-17T16:20:00.000Z",
        "message_type": message_type,
        "content_type": "text",
        "private": private,
        "content_attributes": content_attributes or {},
        "source_id": None,
        "sender": {"id": 7, "name": sender_name, "email": sender_email, "type": sender_type},
        "inbox": {"id": 1, "name": "Concierge"},
        "conversation": copy.deepcopy(conv),
        "account": {"id": account_id, "name": "HempDash"},
    }
