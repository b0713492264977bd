"""The operator CLI against a real dev server: updates, refusals, exit codes,
`show`, and `list` through Temporal visibility."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.worker import Worker

from activities.policy import policy_activities
from dryrun.simulate import terminate_ticket_tree
from engine.ticket_ids import short_id
from models.ticket import Contact
from models.ticket_input import TicketInput
from sandbox.recording import Recorder, recording_activities
from tests.helpers import POLICIES_DIR, eventually
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

pytestmark = pytest.mark.e2e
TICKETFLOW = str(Path(sys.executable).parent / "ticketflow")


async def cli(dev_env, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "CHATWOOT_ACCOUNT_ID": "9",
        "TEMPORAL_UI_URL": "http://ui.example:8233",
        "PUBLIC_URL": "https://tf.example.com",
    }
    proc = await asyncio.create_subprocess_exec(
        TICKETFLOW, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None  # communicate() waits for the exit
    return proc.returncode, out.decode(), err.decode()


async def test_operator_commands(dev_env, pg_pool, task_queue):
    conv = uuid.uuid4().int % 10**6 + 1
    wid = f"ticket-9-{conv}"
    rec = Recorder()
    async with Worker(
        dev_env.client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[*policy_activities(POLICIES_DIR), *recording_activities(rec, pg_pool)],
    ):
        handle = await dev_env.client.start_workflow(
            TicketWorkflow.run,
            TicketInput(
                account_id=9,
                conversation_id=conv,
                policy="vip-concierge",
                contact=Contact(name="Dana Whitfield", vip=True),
            ),
            id=wid,
            task_queue=task_queue,
        )
        try:
            await eventually(
                lambda: handle.query(TicketWorkflow.status), lambda s: s.stage != "starting"
            )
            code, out, _ = await cli(dev_env, "show", str(conv))
            assert code == 0 and wid in out and "VIP first acknowledgment 30m" in out
            assert f"http://ui.example:8233/namespaces/default/workflows/{wid}" in out
            code, _, err = await cli(dev_env, "ack", wid, "--by", "bob")
            assert code == 3 and "unknown person or team 'bob'" in err
            code, _, err = await cli(
                dev_env, "escalate", wid, "--by", "alicia", "--reason", "bored"
            )
            assert code == 3 and "unknown escalation reason 'bored'" in err
            code, _, err = await cli(
                dev_env, "escalate", wid, "--by", "alicia", "--reason", "x", "--payload", "["
            )
            assert code == 2 and "not JSON" in err
            code, out, _ = await cli(dev_env, "ack", wid, "--by", "alicia")
            assert code == 0 and "stage acknowledged" in out
            code, out, _ = await cli(
                dev_env,
                "escalate",
                wid,
                "--by",
                "alicia",
                "--reason",
                "refund_over_200",
                "-f",
                "issue_summary=Refund $340",
                "-f",
                "alicia_already_tried=checked",
                "-f",
                "customer_emotional_state=calm",
            )
            assert code == 0 and "Over-authority escalation" in out and "alliyson" in out
            code, _, err = await cli(
                dev_env, "decide", wid, "--by", "alliyson", "--decision", "engage"
            )
            assert code == 3 and "acknowledged, not decided" in err
            code, out, _ = await cli(dev_env, "list", "--vip", "--policy", "vip-concierge")
            assert code == 0 and wid in out
            owner = (
                await handle.query(TicketWorkflow.status)
            ).owner  # real time decides coverage here
            code, out, _ = await cli(dev_env, "list", "--owner", owner)
            assert code == 0 and wid in out
            code, out, _ = await cli(dev_env, "list", "--owner", "jonathan")
            assert wid not in out
            # The short id a page's summary prints, as printed or as typed.
            short = short_id(wid)
            for text in (short, f"#{short.lower()}", f"[{short}]"):
                code, out, _ = await cli(dev_env, "show", text)
                assert code == 0 and wid in out and f"(#{short})" in out, text
                assert f"Console: https://tf.example.com/console/tickets/{wid}" in out
            other = "ABCDEF01" if short != "ABCDEF01" else "ABCDEF02"
            code, _, err = await cli(dev_env, "show", other)
            assert code == 4 and "none has the short id" in err
            code, _, err = await cli(dev_env, "show", "ticket-9-0")
            assert code == 4 and "no such ticket" in err
        finally:
            await terminate_ticket_tree(dev_env.client, wid, "test cleanup")
