import pytest

from starter.chatwoot_events import ECHO_MARKER, Ignored, Route, WebhookError, route
from tests import payloads


def policy(_inbox):
    return "vip-concierge"


def r(payload, account_id=None):
    return route(payload, account_id=account_id, policy_for_inbox=policy)


def test_conversation_created_starts_ticket_with_contact():
    out = r(payloads.conversation(conv_id=101, account_id=7))
    assert isinstance(out, Route) and out.signal is None
    assert out.workflow_id == "ticket-7-101"
    assert out.ticket.contact.vip is True and out.ticket.contact.first_name == "Dana"


def test_url_account_wins_over_payload():
    assert r(payloads.conversation(account_id=7), account_id=3).workflow_id == "ticket-3-101"


def test_incoming_message_is_customer_reply():
    out = r(payloads.message("incoming", msg_id=9))
    assert out.signal == "customer_replied" and out.arg.event_id == "message:9"


def test_agent_public_reply_is_agent_replied():
    out = r(
        payloads.message(
            "outgoing",
            sender_type="user",
            sender_name="Alicia Garrett",
            sender_email="alicia@example.com",
        )
    )
    assert out.signal == "agent_replied" and out.arg.by == "alicia"


@pytest.mark.parametrize(
    "kwargs,reason",
    [
        ({"private": True, "sender_type": "user"}, "private"),
        ({"sender_type": "agent_bot"}, "not an agent"),
        (
            {"sender_type": "user", "content_attributes": {ECHO_MARKER: {"key": "x"}}},
            "ticketflow itself",
        ),
    ],
)
def test_outgoing_messages_that_are_not_agent_replies(kwargs, reason):
    out = r(payloads.message("outgoing", **kwargs))
    assert isinstance(out, Ignored) and reason in out.reason


def test_status_changes():
    assert (
        r(payloads.conversation("conversation_status_changed", status="resolved")).signal
        == "resolved"
    )
    assert (
        r(payloads.conversation("conversation_status_changed", status="open")).signal == "reopened"
    )
    assert (
        r(payloads.conversation("conversation_status_changed", status="snoozed")).signal
        == "status_changed"
    )


def test_label_change_classifies_and_vip_change_flags():
    body = payloads.conversation(
        "conversation_updated",
        labels=["refund_over_200"],
        changed_attributes=[
            {"label_list": {"previous_value": [], "current_value": ["refund_over_200"]}}
        ],
    )
    out = r(body)
    assert out.signal == "classify" and out.arg.labels == ["refund_over_200"]
    body = payloads.conversation(
        "conversation_updated",
        changed_attributes=[
            {
                "custom_attributes": {
                    "previous_value": {"vip": False},
                    "current_value": {"vip": True},
                }
            }
        ],
    )
    out = r(body)
    assert out.signal == "vip_flag_changed" and out.arg.vip is True


@pytest.mark.parametrize(
    "payload,fragment",
    [
        ([], "JSON object"),
        ({"id": 1}, "event"),
        ({"event": "conversation_created"}, "id"),
        ({"event": "conversation_created", "id": "abc"}, "id"),
        ({"event": "conversation_created", "id": -1, "messages": [{"account_id": 1}]}, "id"),
        ({"event": "message_created", "id": 5, "message_type": "incoming"}, "conversation"),
    ],
)
def test_bad_payloads_name_the_field(payload, fragment):
    with pytest.raises(WebhookError) as err:
        r(payload, account_id=1)
    assert fragment in str(err.value)


def test_missing_account_is_an_error():
    body = payloads.conversation()
    body["messages"] = []
    with pytest.raises(WebhookError, match="account"):
        r(body)


def test_unknown_event_is_ignored():
    assert isinstance(r({"event": "contact_created", "id": 3}), Ignored)
