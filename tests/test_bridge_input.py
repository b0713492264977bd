"""Hostile webhook bodies: each gets a 4xx with `{"error": ...}` and starts nothing.

The bridge runs against a gateway that records every Temporal call, so
"nothing started" is checked, not assumed; one well-formed body proves the
recorder sees calls at all.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import httpx
import pytest

from infra.settings import load_settings
from starter.bridge import create_app
from starter.chatwoot_events import WebhookError, ticket_from_conversation
from tests import payloads
from tests.helpers import signed


class _RecordingClient:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    async def start_workflow(self, *args, **kwargs):
        self.calls.append(("start", kwargs.get("id")))
        return SimpleNamespace(result_run_id="run-1")

    def get_workflow_handle(self, wid):
        calls = self.calls

        class _Handle:
            async def signal(self, *a, **k):
                calls.append(("signal", wid))

        return _Handle()


class _RecordingGateway:
    def __init__(self, settings) -> None:
        self.settings = settings
        self.recorder = _RecordingClient()

    async def client(self, timeout: float = 5.0):
        return self.recorder

    async def healthy(self) -> bool:
        return True


@pytest.fixture
async def bridge():
    settings = load_settings(_env_file=None, webhook_secret="whsec")
    gateway = _RecordingGateway(settings)
    app = create_app(settings, gateway)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bridge"
    ) as http:
        http.calls = gateway.recorder.calls
        yield http


async def post(http, raw: bytes, path="/webhooks/chatwoot"):
    h = {"content-type": "application/json", **signed("whsec", raw)}
    return await http.post(path, content=raw, headers=h)


def body(**extra) -> bytes:
    return json.dumps(payloads.conversation(**extra)).encode()


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _replace(raw: bytes, old: str, new: str) -> bytes:
    assert old.encode() in raw
    return raw.replace(old.encode(), new.encode(), 1)


GOOD = body(conv_id=4242)
HOSTILE = {
    "array nested 5,000 deep": (b"[" * 5000 + b"]" * 5000, 400),
    "custom_attributes nested 1,000 deep": (
        _replace(GOOD, '"custom_attributes": {}', f'"custom_attributes": {{"x": {_nested(1000)}}}'),
        400,
    ),
    "custom_attributes nested 30 deep": (
        _replace(GOOD, '"custom_attributes": {}', f'"custom_attributes": {{"x": {_nested(30)}}}'),
        422,
    ),
    "id of 5,000 digits": (_replace(GOOD, '"id": 4242', '"id": 1' + "0" * 5000), 400),
    "id of 1,200 digits": (_replace(GOOD, '"id": 4242', '"id": 1' + "0" * 1200), 422),
    "id 2^64": (_replace(GOOD, '"id": 4242', f'"id": {2**64}'), 422),
    "id 2^31 (beyond Chatwoot's int4)": (_replace(GOOD, '"id": 4242', f'"id": {2**31}'), 422),
    "inbox_id negative": (_replace(GOOD, '"inbox_id": 1', '"inbox_id": -3'), 422),
    "created_at 1e20": (body(conv_id=4242, created_at=1e20), 422),
    "created_at -1e12": (body(conv_id=4242, created_at=-1e12), 422),
    "created_at NaN": (_replace(GOOD, '"created_at": 1763398800', '"created_at": NaN'), 400),
    "created_at 1e400": (
        _replace(GOOD, '"created_at": 1763398800, "timestamp"', '"created_at": 1e400, "timestamp"'),
        422,
    ),
    "custom attribute 1e400": (
        _replace(GOOD, '"custom_attributes": {}', '"custom_attributes": {"n": 1e400}'),
        422,
    ),
    "lone surrogate in the sender's name": (
        _replace(GOOD, '"Dana Whitfield"', '"Dana \\ud800"'),
        400,
    ),
    "invalid UTF-8": (GOOD.replace(b"Dana Whitfield", b"Dana \xff\xfe"), 400),
    "changed_attributes a number": (
        body(conv_id=4242, event="conversation_updated", changed_attributes=5),
        422,
    ),
    "changed_attributes items not objects": (
        body(conv_id=4242, event="conversation_updated", changed_attributes=[5]),
        422,
    ),
    "account object with a string id": (body(conv_id=4242, account={"id": "x"}, messages=[]), 422),
    "timestamp of 200 characters": (
        body(conv_id=4242, event="conversation_status_changed", timestamp="9" * 200),
        422,
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_body_gets_4xx_and_starts_nothing(bridge, name):
    raw, status = HOSTILE[name]
    resp = await post(bridge, raw)
    assert resp.status_code == status, resp.text
    assert isinstance(resp.json()["error"], str) and resp.json()["error"]
    assert bridge.calls == []


async def test_a_good_body_reaches_temporal(bridge):
    resp = await post(bridge, GOOD)
    assert resp.status_code == 202, resp.text
    assert bridge.calls == [("start", "ticket-1-4242")]


async def test_account_id_in_the_path_is_bounded(bridge):
    resp = await post(bridge, GOOD, path=f"/webhooks/chatwoot/{2**40}")
    assert resp.status_code == 422 and "account_id" in resp.json()["error"]
    assert bridge.calls == []


async def test_pagerduty_webhook_with_odd_agent_is_4xx():
    settings = load_settings(_env_file=None, webhook_secret="whsec")
    app = create_app(settings, _RecordingGateway(settings), dev_mode=True)
    raw = json.dumps(
        {
            "event": {
                "id": "e1",
                "event_type": "incident.acknowledged",
                "agent": {"summary": {"x": 1}},
                "data": {"incident_key": "ticket-1-5:clock:first_ack:0:0"},
            }
        }
    ).encode()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bridge"
    ) as http:
        resp = await http.post(
            "/webhooks/pagerduty", content=raw, headers={"content-type": "application/json"}
        )
    assert resp.status_code == 422 and "error" in resp.json()


def test_reconciliation_skips_a_conversation_with_an_out_of_range_id():
    with pytest.raises(WebhookError, match="id"):
        ticket_from_conversation({"id": 2**40, "status": "open"}, 1, lambda _inbox: "vip-concierge")
