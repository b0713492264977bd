"""A hung or stopped Temporal frontend never hangs a webhook: the bridge
answers 503 within `REQUEST_BUDGET` (well under Chatwoot's 5 s), and 202
again once Temporal is back. Against a real dev server this test owns,
paused with SIGSTOP (a frontend that accepts connections and never answers)
and then stopped."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from client.gateway import TemporalGateway
from infra.settings import load_settings
from starter.bridge import create_app
from starter.delivery import REQUEST_BUDGET
from starter.signatures import sign_chatwoot
from tests import payloads
from tests.faults.servers import DevServer

BOUND = 4.5  # seconds: Chatwoot gives up at 5


pytestmark = pytest.mark.slow  # starts Temporal servers and processes


@pytest.fixture
async def server(tmp_path):
    srv = DevServer(log_path=tmp_path / "temporal.log")
    await srv.start()
    yield srv
    await srv.stop()


async def _post(http, conv_id: int) -> tuple[httpx.Response, float]:
    raw = json.dumps(payloads.conversation(conv_id=conv_id)).encode()
    t0 = time.monotonic()
    resp = await http.post(
        "/webhooks/chatwoot",
        content=raw,
        headers={"content-type": "application/json", **sign_chatwoot("whsec", raw)},
    )
    return resp, time.monotonic() - t0


async def test_paused_then_stopped_temporal_answers_503_within_the_bound(server):
    assert REQUEST_BUDGET < BOUND
    settings = load_settings(
        _env_file=None,
        temporal_address=server.address,
        webhook_secret="whsec",
        temporal_task_queue="nobody-polls",
    )
    app = create_app(settings, TemporalGateway(settings))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bridge", timeout=30
    ) as http:
        resp, _ = await _post(http, 1)
        assert resp.status_code == 202, resp.text

        server.pause()
        try:
            for conv_id in (2, 3):
                resp, took = await _post(http, conv_id)
                assert resp.status_code == 503 and "error" in resp.json(), resp.text
                assert took < BOUND, f"answered after {took:.1f}s"
            t0 = time.monotonic()
            assert (await http.get("/healthz")).status_code == 503
            assert time.monotonic() - t0 < BOUND
        finally:
            server.resume()

        deadline = time.monotonic() + 30
        while True:  # the same bridge recovers on its own once Temporal answers
            resp, _ = await _post(http, 4)
            if resp.status_code == 202 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert resp.status_code == 202, resp.text

        await server.stop()
        resp, took = await _post(http, 5)
        assert resp.status_code == 503 and took < BOUND, (resp.status_code, took)
