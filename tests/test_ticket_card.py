"""Who and what a ticket is about (models/ticket_card.py): read from Chatwoot's
webhooks without message content, carried in the start request's memo by the
one helper every start path uses, read back from a memo, and cut to one line."""

from __future__ import annotations

from datetime import UTC, datetime

from client.gateway import for_web_ui
from models.ticket import Contact, Ticket
from models.ticket_card import MEMO_KEY, TicketCard, one_line
from models.ticket_input import TicketInput
from starter.chatwoot_events import route, ticket_from_conversation
from tests import payloads


def r(payload):
    return route(payload, account_id=None, policy_for_inbox=lambda _inbox: "vip-concierge")


def test_an_email_conversation_names_its_customer_subject_channel_and_inbox():
    body = payloads.conversation(
        additional_attributes={"source": "email", "mail_subject": "Refund for\r\norder 4411"}
    )
    ticket = r(body).ticket
    assert (ticket.subject, ticket.channel, ticket.inbox_id) == (
        "Refund for order 4411",
        "Channel::Email",
        1,
    )
    assert ticket.inbox_name is None  # conversation webhooks carry the inbox's id only
    card = TicketCard.of(ticket)
    assert (card.customer, card.channel_label, card.inbox_label, card.vip) == (
        "Dana Whitfield",
        "Email",
        "inbox #1",
        True,
    )
    assert card.opened_at == datetime.fromtimestamp(1763398800, tz=UTC)


def test_a_message_webhook_adds_the_inbox_name_and_never_the_message():
    body = payloads.message("incoming", content="my card number is 4111 1111 1111 1111")
    body["conversation"]["additional_attributes"] = {"mail_subject": "Where is my order?"}
    ticket = r(body).ticket
    assert ticket.inbox_name == "Concierge" and ticket.subject == "Where is my order?"
    assert "4111" not in ticket.model_dump_json()
    _, options = for_web_ui(ticket, None)
    assert "4111" not in str(options)
    assert options["memo"][MEMO_KEY]["inbox_name"] == "Concierge"


def test_shapes_ticketflow_does_not_know_cost_no_event():
    """`channel`, `additional_attributes` and `inbox` are read for people only: odd
    ones are left out, not a 422."""
    body = payloads.conversation(channel={"type": "Email"}, additional_attributes=["x"])
    ticket = r(body).ticket
    assert ticket.channel is None and ticket.subject is None
    body = payloads.message("incoming")
    body["inbox"] = "Concierge"
    body["conversation"]["additional_attributes"] = {"mail_subject": {"nested": True}}
    ticket = r(body).ticket
    assert ticket.inbox_name is None and ticket.subject is None
    # reconciliation reads the API's conversation object the same way
    api = payloads.conversation(additional_attributes={"mail_subject": "Invoice"})
    assert ticket_from_conversation(api, 1, lambda _i: "ops-ladder").subject == "Invoice"


def test_the_memo_is_set_by_the_start_helper_and_read_back():
    ticket = TicketInput(
        account_id=1,
        conversation_id=42,
        policy="vip-concierge",
        subject="Late delivery",
        channel="Channel::WebWidget",
        contact=Contact(name="Jane <b>Doe</b>", vip=True),
        created_at=datetime(2026, 11, 17, 16, tzinfo=UTC),
    )
    _, options = for_web_ui(ticket, "https://chat.example.com")
    assert set(options) == {"static_summary", "static_details", "memo"}
    card = TicketCard.from_memo(options["memo"])
    assert card == TicketCard.of(ticket)
    assert (card.customer, card.subject, card.channel_label) == (
        "Jane <b>Doe</b>",
        "Late delivery",
        "Web chat",
    )
    assert card.opened_at == datetime(2026, 11, 17, 16, tzinfo=UTC)
    # a ticket started before the memo, or a memo someone else wrote, has no card
    assert TicketCard.from_memo({}) is None and TicketCard.from_memo(None) is None
    assert TicketCard.from_memo({MEMO_KEY: "Jane"}) is None
    assert TicketCard.from_memo({MEMO_KEY: {"opened_at": "not a time"}}) is None


def test_the_card_falls_back_to_when_the_ticket_opened_and_cuts_long_text():
    opened = datetime(2026, 1, 2, tzinfo=UTC)
    ticket = Ticket(
        account_id=1,
        conversation_id=2,
        policy="ops-ladder",
        contact=Contact(name="x" * 500),
        labels=["vip"],
        channel="Channel::Carrier Pigeon",
    )
    card = TicketCard.of(ticket, opened)
    assert card.opened_at == opened and card.vip is True and len(card.customer) == 200
    assert card.channel_label == "Carrier Pigeon" and card.inbox_label is None
    assert one_line("  a\n\tb  ") == "a b" and one_line("") is None and one_line(None) is None
    assert one_line("bad \ud800 surrogate") == "bad ? surrogate"
