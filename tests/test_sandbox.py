"""The stand-ins reject what the real APIs reject and answer in their shapes."""

import httpx
import pytest

from sandbox.chatwoot import create_chatwoot_app
from sandbox.pagerduty import create_pagerduty_app

BASE = "/api/v1/accounts/1/conversations/5"
AUTH = {"api_access_token": "tok"}


@pytest.fixture
async def cw():
    app = create_chatwoot_app("tok", auto_create=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cw") as c:
        await c.post("/_sandbox/conversations", json={"account_id": 1, "conversation_id": 5})
        yield c


@pytest.fixture
async def pd():
    app = create_pagerduty_app({"R" * 32})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pd") as c:
        yield c


async def test_chatwoot_message_shape_and_validation(cw):
    r = await cw.post(
        BASE + "/messages",
        headers=AUTH,
        json={"content": "hi", "message_type": "outgoing", "private": False},
    )
    assert r.status_code == 200 and r.json()["message_type"] == 1  # integer in responses
    assert (
        await cw.post(BASE + "/messages", headers=AUTH, json={"message_type": "outgoing"})
    ).status_code == 422
    assert (
        await cw.post(
            BASE + "/messages", headers={"api_access_token": "bad"}, json={"content": "x"}
        )
    ).status_code == 401
    assert (
        await cw.post(
            "/api/v1/accounts/1/conversations/99/messages", headers=AUTH, json={"content": "x"}
        )
    ).json() == {"error": "Resource could not be found"}


async def test_chatwoot_labels_replace_the_whole_list(cw):
    await cw.post(BASE + "/labels", headers=AUTH, json={"labels": ["a", "b"]})
    r = await cw.post(BASE + "/labels", headers=AUTH, json={"labels": ["c"]})
    assert r.json() == {"payload": ["c"]}


async def test_chatwoot_status_and_assignment(cw):
    assert (
        await cw.post(BASE + "/toggle_status", headers=AUTH, json={"status": "closed"})
    ).status_code == 422
    r = await cw.post(BASE + "/toggle_status", headers=AUTH, json={"status": "resolved"})
    assert r.json()["payload"]["current_status"] == "resolved"
    assert (await cw.post(BASE + "/assignments", headers=AUTH, json={})).status_code == 422
    assert (
        await cw.post(BASE + "/assignments", headers=AUTH, json={"assignee_id": 2})
    ).status_code == 200


def _trigger(**payload):
    body = {"summary": "VIP ack SLA breached", "source": "ticketflow", "severity": "critical"}
    body.update(payload)
    return {
        "routing_key": "R" * 32,
        "event_action": "trigger",
        "dedup_key": "ticket-1-5:ack",
        "payload": body,
    }


async def test_pagerduty_accepts_valid_and_dedups(pd):
    for _ in range(2):
        r = await pd.post("/v2/enqueue", json=_trigger())
        assert r.status_code == 202 and r.json()["dedup_key"] == "ticket-1-5:ack"
    alerts = (await pd.get("/_sandbox/alerts")).json()
    assert alerts["ticket-1-5:ack"]["triggers"] == 2
    await pd.post(
        "/v2/enqueue",
        json={
            "routing_key": "R" * 32,
            "event_action": "acknowledge",
            "dedup_key": "ticket-1-5:ack",
        },
    )
    assert (await pd.get("/_sandbox/alerts")).json()["ticket-1-5:ack"]["status"] == "acknowledged"


@pytest.mark.parametrize(
    "event",
    [
        _trigger(severity="urgent"),
        _trigger(summary="x" * 1025),
        _trigger(source=""),
        {**_trigger(), "routing_key": "wrong"},
        {**_trigger(), "event_action": "escalate"},
        {**_trigger(), "dedup_key": "d" * 256},
    ],
)
async def test_pagerduty_rejects_invalid_events(pd, event):
    r = await pd.post("/v2/enqueue", json=event)
    assert r.status_code == 400 and r.json()["status"] == "invalid event"


async def test_fault_injection_and_call_log(pd):
    await pd.post("/_sandbox/faults", json={"rate": 1.0, "kinds": [503], "seed": 1})
    assert (await pd.post("/v2/enqueue", json=_trigger())).status_code == 503
    calls = (await pd.get("/_sandbox/calls")).json()
    assert calls[-1]["status"] == 503
