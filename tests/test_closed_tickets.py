"""A conversation whose ticket closed starts nothing until it is reopened.

A fuzz run once saw 25 runs of one conversation: every repeated
`conversation_created` after the ticket closed started a new run, with a
second auto-acknowledgement and a second set of clocks. Through the bridge,
on the time-skipping server with the real workflows and a recording
Chatwoot: the VIP pack closes on resolve; after that a repeat
`conversation_created`, an agent reply and a label change start nothing; a
reopen (status -> open) starts the ticket again, once.
"""

from __future__ import annotations

import json

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus

from client.gateway import TemporalGateway
from infra.settings import load_settings
from models import search_attributes as sa
from starter.bridge import create_app
from tests import payloads
from tests.helpers import eventually, signed, terminate_all

CONV = 9301
WID = f"ticket-1-{CONV}"


@pytest.fixture
async def bridge(ts_env, ticket_worker, task_queue):
    settings = load_settings(_env_file=None, temporal_task_queue=task_queue, webhook_secret="whsec")
    app = create_app(settings, TemporalGateway(settings, ts_env.client))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bridge"
    ) as http:
        yield http
    await terminate_all(ts_env.client, [WID])


async def post(http, body: dict) -> httpx.Response:
    raw = json.dumps(body).encode()
    return await http.post(
        "/webhooks/chatwoot",
        content=raw,
        headers={"content-type": "application/json", **signed("whsec", raw)},
    )


def auto_acks(rec) -> int:
    return sum(
        1
        for e in rec.of("chatwoot.message")
        if "thanks for reaching out" in e.details.get("content", "")
    )


async def runs(client) -> list:
    return [w async for w in client.list_workflows(f"WorkflowId = '{WID}'")]


async def test_closed_ticket_starts_nothing_until_reopened(bridge, ts_env, ticket_worker):
    rec = ticket_worker
    now = int((await ts_env.get_current_time()).timestamp())  # a live conversation, not a backfill
    created = payloads.conversation(conv_id=CONV, created_at=now)
    first = await post(bridge, created)
    assert first.status_code == 202 and first.json()["status"] == "accepted"
    handle = ts_env.client.get_workflow_handle(WID)
    await eventually(lambda: _async(auto_acks(rec)), lambda n: n == 1)  # the ticket ran its opening

    resolved = payloads.conversation(
        "conversation_status_changed",
        conv_id=CONV,
        status="resolved",
        timestamp=now + 60,
        created_at=now,
    )
    assert (await post(bridge, resolved)).status_code == 202
    await eventually(handle.describe, lambda d: d.status == WorkflowExecutionStatus.COMPLETED)

    # Repeats and other events about the closed ticket start nothing.
    for body in (
        created,
        created,
        payloads.message(
            "outgoing", conv_id=CONV, sender_type="user", sender_name="Alicia Garrett"
        ),
        payloads.conversation(
            "conversation_updated",
            conv_id=CONV,
            labels=["billing"],
            changed_attributes=[
                {"label_list": {"previous_value": [], "current_value": ["billing"]}}
            ],
        ),
    ):
        resp = await post(bridge, body)
        assert resp.status_code == 202 and resp.json()["status"] == "ignored", resp.text
        assert "closed" in resp.json()["reason"]
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert (await handle.describe()).run_id == first.json()["run_id"]
    assert auto_acks(rec) == 1

    # A reopen in Chatwoot starts the ticket again, once; a repeat then reuses it.
    reopened = payloads.conversation(
        "conversation_status_changed",
        conv_id=CONV,
        status="open",
        timestamp=now + 120,
        created_at=now,
    )
    again = await post(bridge, reopened)
    assert again.status_code == 202 and again.json()["status"] == "accepted", again.text
    assert again.json()["run_id"] != first.json()["run_id"]
    repeat = await post(bridge, created)
    assert repeat.json()["run_id"] == again.json()["run_id"]
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    # The new life's actions have keys of their own: its acknowledgement is
    # sent, not skipped as the closed run's (Chatwoot dedupes by key).
    await eventually(lambda: _async(auto_acks(rec)), lambda n: n == 2)


async def test_start_request_carries_the_known_search_attributes(bridge, ts_env):
    resp = await post(bridge, payloads.conversation(conv_id=CONV))
    assert resp.status_code == 202
    # Read from the start event itself: set before the workflow ran any code.
    history = await ts_env.client.get_workflow_handle(
        WID, run_id=resp.json()["run_id"]
    ).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    from temporalio.converter import decode_typed_search_attributes

    attrs = decode_typed_search_attributes(started.search_attributes)
    assert attrs.get(sa.TICKET_ID) == WID and attrs.get(sa.TICKET_POLICY) == "vip-concierge"
    assert attrs.get(sa.TICKET_VIP) is True


async def _async(value):
    return value
