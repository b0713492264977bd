"""The webhook bridge against the time-skipping server and a real worker."""

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from client.gateway import TemporalGateway
from infra.settings import load_settings
from starter.bridge import create_app
from starter.signatures import sign_chatwoot
from tests import payloads
from tests.helpers import eventually, terminate_all
from workflows.ticket import TicketWorkflow


@pytest.fixture
async def bridge(
    ts_env: WorkflowEnvironment, ticket_worker: object, task_queue: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(_env_file=None, temporal_task_queue=task_queue, webhook_secret="whsec")
    app = create_app(settings, TemporalGateway(settings, ts_env.client))
    started: list[str] = []

    async def record(response: httpx.Response) -> None:
        await response.aread()
        if response.status_code == 202 and "workflow_id" in response.json():
            started.append(response.json()["workflow_id"])

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://bridge",
        event_hooks={"response": [record]},
    ) as http:
        yield http
    await terminate_all(ts_env.client, dict.fromkeys(started))


async def post(http, body, secret="whsec", path="/webhooks/chatwoot", headers=None, timestamp=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = {
        "content-type": "application/json",
        **sign_chatwoot(secret, raw, timestamp),
        **(headers or {}),
    }
    return await http.post(path, content=raw, headers=h)


async def test_signed_conversation_created_starts_one_ticket(bridge, ts_env):
    body = payloads.conversation(conv_id=9001, account_id=1)
    run_ids = set()
    now = int(time.time())
    for i in range(3):  # a resend (signed anew) is harmless
        resp = await post(bridge, body, timestamp=now - i)
        assert resp.status_code == 202, resp.text
        assert resp.json()["workflow_id"] == "ticket-1-9001"
        run_ids.add(resp.json()["run_id"])
    assert len(run_ids) == 1  # one ticket, not three
    desc = await ts_env.client.get_workflow_handle("ticket-1-9001").describe()
    assert desc.status == WorkflowExecutionStatus.RUNNING


async def test_message_for_unknown_conversation_signal_with_starts(bridge, ts_env):
    resp = await post(bridge, payloads.message("incoming", conv_id=9002))
    assert resp.status_code == 202 and resp.json()["signal"] == "customer_replied"
    handle = ts_env.client.get_workflow_handle("ticket-1-9002")
    status = await eventually(
        lambda: handle.query(TicketWorkflow.status), lambda s: s.stage != "starting"
    )
    assert status.policy == "vip-concierge" and status.stage == "open"


async def test_bad_signature_is_401(bridge):
    assert (
        await post(bridge, payloads.conversation(conv_id=9003), secret="wrong")
    ).status_code == 401


async def test_replayed_signed_delivery_is_401(bridge):
    raw = json.dumps(payloads.conversation(conv_id=9004)).encode()
    headers = {"content-type": "application/json", **sign_chatwoot("whsec", raw)}
    assert (
        await bridge.post("/webhooks/chatwoot", content=raw, headers=headers)
    ).status_code == 202
    replay = await bridge.post("/webhooks/chatwoot", content=raw, headers=headers)
    assert replay.status_code == 401 and "replay" in replay.json()["error"]


def test_seen_signatures_forget_after_the_window_and_on_release():
    from starter.signatures import SeenSignatures

    seen = SeenSignatures(span_seconds=600, capacity=3)
    assert seen.claim("a", now=0) and not seen.claim("a", now=599)
    assert seen.claim(
        "a", now=601
    )  # outside the span: its timestamp no longer passes the skew check anyway
    seen.release("a")
    assert seen.claim("a", now=602)  # a delivery answered 5xx may be sent again
    for sig in "bcd":
        assert seen.claim(sig, now=603)
    assert len(seen._seen) <= 3  # bounded memory


@pytest.mark.parametrize(
    "raw,status",
    [
        (b"{not json", 400),
        (json.dumps({"event": "conversation_created"}).encode(), 422),
        (
            json.dumps(
                {"event": "conversation_created", "id": "x", "messages": [{"account_id": 1}]}
            ).encode(),
            422,
        ),
        (b"x" * (300 * 1024), 413),
    ],
)
async def test_bad_input_gets_4xx_with_json_error(bridge, raw, status):
    resp = await post(bridge, raw)
    assert resp.status_code == status
    assert "error" in resp.json()


async def test_wrong_content_type_and_bad_account_path(bridge):
    resp = await bridge.post(
        "/webhooks/chatwoot", content=b"a=b", headers={"content-type": "text/plain"}
    )
    assert resp.status_code == 415
    resp = await post(bridge, payloads.conversation(), path="/webhooks/chatwoot/abc")
    assert resp.status_code == 422 and "account_id" in resp.json()["error"]


async def test_unknown_event_is_ignored_with_202(bridge):
    resp = await post(bridge, {"event": "contact_created", "id": 4})
    assert resp.status_code == 202 and resp.json()["status"] == "ignored"


async def test_healthz(bridge):
    assert (await bridge.get("/healthz")).status_code == 200


async def test_temporal_unreachable_is_503():
    settings = load_settings(_env_file=None, temporal_address="127.0.0.1:1", webhook_secret="whsec")
    app = create_app(settings, TemporalGateway(settings))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bridge"
    ) as http:
        assert (await http.get("/healthz")).status_code == 503
        raw = json.dumps(payloads.conversation()).encode()
        headers = {"content-type": "application/json", **sign_chatwoot("whsec", raw)}
        for _ in range(2):  # not processed, so the same signed delivery may be sent again
            resp = await http.post("/webhooks/chatwoot", content=raw, headers=headers)
            assert resp.status_code == 503 and "Temporal" in resp.json()["error"]


def test_bridge_refuses_to_start_unauthenticated_outside_dev():
    settings = load_settings(_env_file=None)
    with pytest.raises(RuntimeError, match="WEBHOOK_SECRET"):
        create_app(settings, TemporalGateway(settings))


async def test_shared_token_for_unsigned_chatwoot(ts_env, ticket_worker, task_queue):
    settings = load_settings(
        _env_file=None, temporal_task_queue=task_queue, webhook_token="tok-123"
    )
    app = create_app(settings, TemporalGateway(settings, ts_env.client))
    body = json.dumps({"event": "contact_created", "id": 4}).encode()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bridge"
    ) as http:
        h = {"content-type": "application/json"}
        assert (
            await http.post("/webhooks/chatwoot?token=tok-123", content=body, headers=h)
        ).status_code == 202
        assert (
            await http.post(
                "/webhooks/chatwoot", content=body, headers={**h, "X-Ticketflow-Token": "tok-123"}
            )
        ).status_code == 202
        assert (
            await http.post("/webhooks/chatwoot?token=nope", content=body, headers=h)
        ).status_code == 401
        assert (await http.post("/webhooks/chatwoot", content=body, headers=h)).status_code == 401
