"""The real Chatwoot and PagerDuty activities against the sandbox stand-ins,
which speak the real APIs' shapes and reject what they reject."""

from __future__ import annotations

import httpx
import pytest
from pydantic import AnyHttpUrl
from temporalio.exceptions import ApplicationError

from activities.chatwoot import ChatwootActivities
from activities.pagerduty import PagerDutyActivities
from infra.settings import load_settings
from models.chatwoot import (
    AssignInput,
    MergeAttributesInput,
    PostMessageInput,
    SetStatusInput,
    UpdateLabelsInput,
)
from models.pagerduty import PagerDutyEventInput
from sandbox.pagerduty import create_pagerduty_app
from tests.helpers import AT, CHATWOOT_TOKEN, CONV, activity_env

LOLA_KEY = "R" * 31 + "L"


async def test_message_is_marked_and_a_retry_never_posts_twice(chatwoot):
    acts, app, _http = chatwoot
    inp = PostMessageInput(**CONV, idempotency_key="ticket-1-5:7", content="Hi Dana")
    first = await activity_env(1).run(acts.send_message, inp)
    again = await activity_env(2).run(
        acts.send_message, inp
    )  # the first attempt landed but timed out
    assert again.deduplicated and again.message_id == first.message_id
    msgs = app.state.chatwoot.conversations[(1, 5)]["messages"]
    assert len(msgs) == 1 and msgs[0]["content_attributes"]["ticketflow"]["key"] == "ticket-1-5:7"
    assert msgs[0]["message_type"] == 1 and msgs[0]["private"] is False
    note = await activity_env(1).run(
        acts.send_message, PostMessageInput(**CONV, idempotency_key="k2", content="n", private=True)
    )
    assert (
        note.message_id
        and app.state.chatwoot.conversations[(1, 5)]["messages"][1]["private"] is True
    )


async def test_labels_are_read_merged_and_written(chatwoot):
    acts, app, _ = chatwoot
    out = await activity_env().run(
        acts.update_labels, UpdateLabelsInput(**CONV, idempotency_key="k", add=["vip_acked"])
    )
    assert out.labels == [
        "vip",
        "vip_acked",
    ]  # the POST replaces the list, so the existing label was kept
    out = await activity_env().run(
        acts.update_labels, UpdateLabelsInput(**CONV, idempotency_key="k", remove=["vip"])
    )
    assert app.state.chatwoot.conversations[(1, 5)]["labels"] == ["vip_acked"]


async def test_assign_status_and_attribute_merge(chatwoot):
    acts, app, _ = chatwoot
    await activity_env().run(acts.assign, AssignInput(**CONV, idempotency_key="k", agent_id=2))
    await activity_env().run(
        acts.set_status, SetStatusInput(**CONV, idempotency_key="k", status="pending")
    )
    await activity_env().run(
        acts.merge_custom_attributes,
        MergeAttributesInput(**CONV, idempotency_key="k", set={"ticket_stage": "escalated"}),
    )
    conv = app.state.chatwoot.conversations[(1, 5)]
    assert conv["meta"]["assignee"]["id"] == 2 and conv["status"] == "pending"
    assert conv["custom_attributes"] == {"ask_type": "order_status", "ticket_stage": "escalated"}


async def test_errors_are_typed_and_never_carry_the_token(chatwoot):
    acts, _app, http = chatwoot
    bad_token = ChatwootActivities(
        http,
        load_settings(
            _env_file=None,
            chatwoot_base_url="http://cw",
            chatwoot_api_token="wrong",
            chatwoot_account_id=1,
        ),
    )
    with pytest.raises(ApplicationError) as err:
        await activity_env().run(
            bad_token.assign, AssignInput(**CONV, idempotency_key="k", agent_id=2)
        )
    assert err.value.type == "ChatwootUnauthorized" and err.value.non_retryable
    with pytest.raises(ApplicationError) as err:
        await activity_env().run(
            acts.assign,
            AssignInput(account_id=1, conversation_id=99, at=AT, idempotency_key="k", agent_id=2),
        )
    assert (
        err.value.type == "ChatwootNotFound"
        and err.value.non_retryable
        and CHATWOOT_TOKEN not in str(err.value)
    )
    with pytest.raises(ApplicationError) as err:
        await activity_env().run(
            acts.assign, AssignInput(**CONV, idempotency_key="k", agent_id=999)
        )
    assert err.value.non_retryable
    await http.post("/_sandbox/faults", json={"rate": 1.0, "kinds": [429], "seed": 3})
    with pytest.raises(ApplicationError) as err:
        await activity_env().run(
            acts.set_status, SetStatusInput(**CONV, idempotency_key="k", status="open")
        )
    assert err.value.type == "ChatwootUnavailable" and not err.value.non_retryable
    assert err.value.next_retry_delay is not None  # honours Retry-After


@pytest.fixture
async def pagerduty():
    app = create_pagerduty_app({LOLA_KEY, "D" * 32})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://pd"
    ) as http:
        settings = load_settings(
            _env_file=None,
            pagerduty_events_url="http://pd",
            pagerduty_routing_key="D" * 32,
            pagerduty_routing_keys=f'{{"lola": "{LOLA_KEY}"}}',
            chatwoot_base_url="http://cw",
            temporal_ui_url="http://ui:8233",
        )
        yield PagerDutyActivities(http, settings), app, http


def trigger(**kw) -> PagerDutyEventInput:
    base = dict(
        event_action="trigger",
        dedup_key="ticket-1-5:clock:first_ack:0:0",
        routing_key_name="lola",
        summary="VIP ack SLA breached",
        workflow_id="ticket-1-5",
        account_id=1,
        conversation_id=5,
        at=AT,
    )
    base.update(kw)
    return PagerDutyEventInput(**base)


async def test_trigger_uses_the_named_key_links_back_and_dedups(pagerduty):
    acts, app, _ = pagerduty
    for attempt in (1, 2):
        out = await activity_env(attempt).run(acts.send_event, trigger())
        assert out.dedup_key == "ticket-1-5:clock:first_ack:0:0"
    [call, _] = [c for c in app.state.recorder.calls if c["status"] == 202]
    assert call["body"]["routing_key"] == LOLA_KEY
    hrefs = [link["href"] for link in call["body"]["links"]]
    assert hrefs == [  # no PUBLIC_URL: no console link, the other two as before
        "http://ui:8233/namespaces/default/workflows/ticket-1-5",
        "http://cw/app/accounts/1/conversations/5",
    ]
    assert "console" not in call["body"]["payload"]["custom_details"]
    assert app.state.alerts["ticket-1-5:clock:first_ack:0:0"]["triggers"] == 2  # one alert
    await activity_env().run(acts.send_event, trigger(event_action="resolve"))
    assert app.state.alerts["ticket-1-5:clock:first_ack:0:0"]["status"] == "resolved"
    await activity_env().run(
        acts.send_event, trigger(routing_key_name="someone_else", dedup_key="x")
    )  # default key
    assert app.state.recorder.calls[-1]["body"]["routing_key"] == "D" * 32


async def test_pagerduty_errors(pagerduty):
    acts, _app, http = pagerduty
    no_keys = PagerDutyActivities(
        acts.http, load_settings(_env_file=None, pagerduty_events_url="http://pd")
    )
    with pytest.raises(ApplicationError) as err:
        await activity_env().run(no_keys.send_event, trigger())
    assert err.value.type == "PagerDutyNotConfigured" and err.value.non_retryable
    wrong = PagerDutyActivities(
        acts.http,
        load_settings(
            _env_file=None, pagerduty_events_url="http://pd", pagerduty_routing_key="W" * 32
        ),
    )
    with pytest.raises(ApplicationError) as err:
        await activity_env().run(wrong.send_event, trigger(routing_key_name=None))
    assert err.value.non_retryable and "W" * 32 not in str(err.value)
    await http.post("/_sandbox/faults", json={"rate": 1.0, "kinds": [503]})
    with pytest.raises(ApplicationError) as err:
        await activity_env().run(acts.send_event, trigger())
    assert not err.value.non_retryable and LOLA_KEY not in str(err.value)


async def test_a_page_links_first_to_the_console_ticket_page_when_public_url_is_set(pagerduty):
    acts, app, _ = pagerduty
    settings = acts.settings.model_copy(
        update={"public_url": AnyHttpUrl("https://tf.example.com/")}
    )
    with_console = PagerDutyActivities(acts.http, settings)
    details = {"customer": "Dana Whitfield", "late_by": "10 minutes"}
    await activity_env().run(with_console.send_event, trigger(custom_details=details))
    alert = app.state.alerts["ticket-1-5:clock:first_ack:0:0"]
    console = "https://tf.example.com/console/tickets/ticket-1-5"
    assert alert["links"][0] == {
        "href": console,
        "text": "Open the ticket in the console (act here)",
    }
    assert len(alert["links"]) == 3  # then the Temporal Web UI and Chatwoot
    assert alert["custom_details"] == {**details, "console": console}
    # An acknowledge or resolve carries no payload and no links.
    await activity_env().run(with_console.send_event, trigger(event_action="resolve"))
    assert "links" not in app.state.recorder.calls[-1]["body"]


async def test_a_private_note_links_to_the_console_a_public_reply_never_does(chatwoot):
    acts, app, _ = chatwoot
    plain = await activity_env().run(
        acts.send_message, PostMessageInput(**CONV, idempotency_key="n0", content="n", private=True)
    )
    assert plain.message_id
    settings = acts.settings.model_copy(update={"public_url": AnyHttpUrl("https://tf.example.com")})
    linked = ChatwootActivities(acts.http, settings)
    for key, private in (("n1", True), ("m1", False)):
        await activity_env().run(
            linked.send_message,
            PostMessageInput(
                **CONV, idempotency_key=key, content="Ack SLA breached", private=private
            ),
        )
    msgs = app.state.chatwoot.conversations[(1, 5)]["messages"]
    assert [m["content"] for m in msgs] == [
        "n",  # PUBLIC_URL unset: the note as the pack wrote it
        "Ack SLA breached\n\n[Open the ticket in the ticketflow console]"
        "(https://tf.example.com/console/tickets/ticket-1-5)",
        "Ack SLA breached",  # the customer never sees the console
    ]
