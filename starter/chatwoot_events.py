"""Chatwoot webhook payloads -> what to do with the ticket workflow.

Pure parsing, no I/O, so every rule is unit-tested. Conversation events put
the conversation's fields at the top level beside `"event"`; message events
carry the conversation under `"conversation"`. Neither reliably carries the
account id at the top level, so the caller passes the account from the URL
(`/webhooks/chatwoot/{account_id}`) or settings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from models.chatwoot import (
    ECHO_MARKER,
    ChatwootId,
    JsonAttributes,
    JsonValue,
    MessageId,
    ShortText,
    UnixSeconds,
    WebhookText,
    instant,
)
from models.signals import (
    AgentReplied,
    Classify,
    CustomerReplied,
    Reopened,
    Resolved,
    StatusChanged,
    VipFlagChanged,
)
from models.ticket import Contact, ticket_workflow_id
from models.ticket_card import one_line
from models.ticket_input import TicketInput


class WebhookError(ValueError):
    """The payload cannot be used; the message says which field and why."""


@dataclass(frozen=True)
class Route:
    """Start the ticket (if needed) and optionally deliver one signal."""

    workflow_id: str
    ticket: TicketInput
    signal: str | None = None
    arg: BaseModel | None = None
    # Start the ticket if it is not running. False for events about a
    # resolved conversation: they may reach a running ticket, never start one.
    start_if_missing: bool = True
    # Whether this event may start a new run after the ticket *closed* (its
    # workflow completed): only a reopen (status -> open) or a new incoming
    # message does; a repeat conversation_created, an agent reply or a label
    # change on a closed ticket starts nothing (see starter/delivery.py).
    reopens: bool = False


@dataclass(frozen=True)
class Ignored:
    reason: str


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Sender(_Lenient):
    id: ChatwootId | None = None
    name: WebhookText | None = None
    email: WebhookText | None = None
    type: ShortText | None = None
    custom_attributes: JsonAttributes = Field(default_factory=dict)


class _Meta(_Lenient):
    sender: _Sender | None = None


class _MessageRef(_Lenient):
    account_id: ChatwootId | None = None


class _Conversation(_Lenient):
    id: ChatwootId
    display_id: ChatwootId | None = None
    inbox_id: ChatwootId | None = None
    status: ShortText | None = None
    labels: list[WebhookText] = Field(default_factory=list)
    custom_attributes: JsonAttributes = Field(default_factory=dict)
    meta: _Meta = Field(default_factory=_Meta)
    messages: list[_MessageRef] = Field(default_factory=list)
    # Unix seconds (conversation payloads) or an ISO string (message payloads, not used)
    created_at: UnixSeconds | ShortText | None = None
    account_id: ChatwootId | None = None
    # Read for people (models/ticket_card.py), never validated: a shape ticketflow
    # does not know here must not cost the event (see _subject).
    channel: Any = None
    additional_attributes: Any = None

    @property
    def number(self) -> int:
        return self.display_id or self.id


class _Account(_Lenient):
    id: ChatwootId


class _Change(_Lenient):
    previous_value: JsonValue = None
    current_value: JsonValue = None


class _ConversationEvent(_Conversation):
    """A conversation_* webhook: the conversation plus the event's own fields."""

    account: _Account | None = None
    changed_attributes: list[dict[str, _Change]] | None = None
    timestamp: UnixSeconds | ShortText | None = None
    updated_at: UnixSeconds | ShortText | None = None


class _Message(_Lenient):
    id: MessageId
    message_type: ShortText | Annotated[int, Field(ge=0, le=255)]
    private: bool = False
    content_attributes: JsonAttributes | None = None
    sender: _Sender | None = None
    conversation: _Conversation
    account: _Account | None = None
    # `{id, name}` (conversation webhooks carry only `inbox_id`); read like `channel`.
    inbox: Any = None
    # When the message was sent: an ISO string (or Unix seconds); read, never validated,
    # so a shape ticketflow does not know costs only the instant, not the event.
    created_at: Any = None


def _truthy(value: Any) -> bool:
    return value is True or (
        isinstance(value, str) and value.strip().lower() in {"true", "yes", "1"}
    )


def _contact(conv: _Conversation) -> Contact:
    s = conv.meta.sender or _Sender()
    attrs = {**s.custom_attributes, **conv.custom_attributes}
    return Contact(
        id=s.id,
        name=s.name or "",
        email=s.email,
        vip=_truthy(attrs.get("vip")) or "vip" in conv.labels,
        founder_personal=_truthy(attrs.get("founder_personal_contact")),
        customer_id=str(attrs["customer_id"]) if attrs.get("customer_id") else None,
    )


def _created_at(conv: _Conversation) -> datetime | None:
    if isinstance(conv.created_at, (int, float)):
        return datetime.fromtimestamp(conv.created_at, tz=UTC)
    return None


def _account(conv: _Conversation, explicit: int | None, message_account: int | None) -> int:
    for candidate in (
        explicit,
        message_account,
        conv.account_id,
        *(m.account_id for m in conv.messages),
    ):
        if candidate:
            return candidate
    raise WebhookError(
        "no account id: post to /webhooks/chatwoot/{account_id} or set CHATWOOT_ACCOUNT_ID"
    )


def _subject(conv: _Conversation) -> str | None:
    """The e-mail subject Chatwoot keeps in `additional_attributes.mail_subject`
    (e-mail inboxes); not a message body, which never leaves the webhook."""
    attrs = conv.additional_attributes
    return one_line(attrs.get("mail_subject")) if isinstance(attrs, dict) else None


def _ticket(
    conv: _Conversation, account_id: int, policy_for_inbox, inbox: Any = None
) -> TicketInput:
    return TicketInput(
        account_id=account_id,
        conversation_id=conv.number,
        policy=policy_for_inbox(conv.inbox_id),
        contact=_contact(conv),
        labels=conv.labels,
        custom_attributes=conv.custom_attributes,
        inbox_id=conv.inbox_id,
        created_at=_created_at(conv),
        subject=_subject(conv),
        channel=one_line(conv.channel, 64),
        inbox_name=one_line(inbox.get("name"), 100) if isinstance(inbox, dict) else None,
    )


def ticket_from_conversation(conversation: dict, account_id: int, policy_for_inbox) -> TicketInput:
    """A ticket from a conversation object as the Chatwoot API returns it
    (the same shape webhooks carry); used by reconciliation."""
    try:
        conv = _Conversation.model_validate(conversation)
    except ValidationError as err:
        raise WebhookError(_fmt(err)) from None
    return _ticket(conv, account_id, policy_for_inbox)


def _fmt(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def route(payload: object, *, account_id: int | None, policy_for_inbox) -> Route | Ignored:
    """Decide what a webhook means. Raises WebhookError for unusable input."""
    out = _route(payload, account_id, policy_for_inbox)
    if isinstance(out, Route) and out.arg is not None:  # the ticket records who sent each signal
        out = replace(out, arg=out.arg.model_copy(update={"source": "webhook"}))
    return out


def _route(payload: object, account_id: int | None, policy_for_inbox) -> Route | Ignored:
    if not isinstance(payload, dict):
        raise WebhookError("body must be a JSON object")
    event = payload.get("event")
    if not isinstance(event, str) or not event:
        raise WebhookError("event: missing or not a string")
    try:
        if event.startswith("message_"):
            return _route_message(
                event, _Message.model_validate(payload), account_id, policy_for_inbox
            )
        if event.startswith("conversation_"):
            return _route_conversation(
                event, _ConversationEvent.model_validate(payload), account_id, policy_for_inbox
            )
    except ValidationError as err:
        raise WebhookError(_fmt(err)) from None
    return Ignored(f"event {event!r} is not used by ticketflow")


def _route_message(
    event: str, msg: _Message, explicit: int | None, policy_for_inbox
) -> Route | Ignored:
    if event != "message_created":
        return Ignored(f"{event} is not used by ticketflow")
    conv = msg.conversation
    account = _account(conv, explicit, msg.account.id if msg.account else None)
    ticket = _ticket(conv, account, policy_for_inbox, msg.inbox)
    wid = ticket_workflow_id(account, conv.number)
    event_id = f"message:{msg.id}"
    sent = instant(msg.created_at)  # when it happened: the ticket orders it by this
    if ECHO_MARKER in (msg.content_attributes or {}):
        return Ignored("message posted by ticketflow itself")
    kind = msg.message_type
    if kind in ("incoming", 0):
        return Route(
            wid,
            ticket,
            "customer_replied",
            CustomerReplied(event_id=event_id, occurred_at=sent),
            reopens=True,
        )
    if kind in ("outgoing", 1):
        sender = msg.sender or _Sender()
        if msg.private:
            return Ignored("private note")
        if sender.type != "user":
            return Ignored(f"outgoing message from {sender.type or 'unknown sender'}, not an agent")
        by = (sender.email or sender.name or str(sender.id)).split("@")[0].lower()
        return Route(
            wid,
            ticket,
            "agent_replied",
            AgentReplied(event_id=event_id, by=by, substantive=True, occurred_at=sent),
        )
    return Ignored(f"message_type {kind!r} is not a reply")


def _changed(conv: _ConversationEvent) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for item in conv.changed_attributes or []:
        out.update({k: v.model_dump() for k, v in item.items()})
    return out


def _route_conversation(
    event: str, conv: _ConversationEvent, explicit: int | None, policy_for_inbox
) -> Route | Ignored:
    account = _account(conv, explicit, conv.account.id if conv.account else None)
    ticket = _ticket(conv, account, policy_for_inbox)
    wid = ticket_workflow_id(account, conv.number)
    stamp = conv.timestamp or conv.updated_at or ""
    if isinstance(stamp, float) and stamp.is_integer():
        stamp = int(stamp)  # event ids as before: "status:open:1763398800"
    if event == "conversation_created":
        return Route(wid, ticket)
    live = conv.status != "resolved"
    if event == "conversation_status_changed":
        status = conv.status
        eid = f"status:{status}:{stamp}"
        if status == "resolved":
            return Route(
                wid,
                ticket,
                "resolved",
                Resolved(event_id=eid, by="chatwoot"),
                start_if_missing=False,
            )
        if status == "open":
            return Route(wid, ticket, "reopened", Reopened(event_id=eid), reopens=True)
        if status in ("pending", "snoozed"):
            return Route(wid, ticket, "status_changed", StatusChanged(event_id=eid, status=status))
        raise WebhookError(f"status: unknown conversation status {status!r}")
    if event == "conversation_updated":
        changed = _changed(conv)
        if "custom_attributes" in changed:
            prev = changed["custom_attributes"].get("previous_value") or {}
            cur = changed["custom_attributes"].get("current_value") or {}
            if (
                isinstance(prev, dict)
                and isinstance(cur, dict)
                and _truthy(prev.get("vip")) != _truthy(cur.get("vip"))
            ):
                return Route(
                    wid,
                    ticket,
                    "vip_flag_changed",
                    VipFlagChanged(
                        event_id=f"vip:{stamp}",
                        vip=_truthy(cur.get("vip")),
                        by="chatwoot",
                        why="custom attribute changed in Chatwoot",
                    ),
                    start_if_missing=live,
                )
        if "label_list" in changed or "custom_attributes" in changed:
            return Route(
                wid,
                ticket,
                "classify",
                Classify(
                    event_id=f"classify:{stamp}",
                    labels=conv.labels,
                    custom_attributes=conv.custom_attributes,
                    by="chatwoot",
                ),
                start_if_missing=live,
            )
        return Ignored("conversation_updated without label or custom-attribute changes")
    return Ignored(f"{event} is not used by ticketflow")
