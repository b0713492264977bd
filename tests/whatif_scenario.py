"""Recorded VIP tickets for the what-if and replay tests: real workflows and
real audit and policy activities (the pack content kept in `pack_versions`)
on the time-skipping server, Chatwoot and PagerDuty stood in.

Four tickets open Tuesday 10:00 Chicago (Alicia's shift; Lola is her backup):
- `late`: nobody acknowledges; Lola paged at 10:30, Jonathan at 11:00; resolved at 11:05;
- `close_call`: acknowledged at 10:25 (inside 30 minutes, outside 20); resolved at 11:05;
- `early`: acknowledged at 10:10; resolved at 11:05;
- `handoff`: acknowledged, then escalated to Alliyson at 10:00, whose handoff times out at 10:30
  and walks its on-failure ladder; still open at the end.
Each gets the same Chatwoot inbox, unique to the run: `--inbox` picks them alone.
The `scenario` fixture (tests/conftest.py) records them once per test module.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from temporalio.worker import Worker

from activities.policy import policy_activities
from client.tickets import send_update
from console.actions import perform
from console.packs import Packs
from models.signals import Acknowledged, Escalate
from sandbox.recording import Recorder, recording_activities
from tests.helpers import POLICIES_DIR, eventually, start
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

REFUND = {
    "issue_summary": "Refund $340",
    "alicia_already_tried": "checked",
    "customer_emotional_state": "frustrated",
}


@dataclass
class Scenario:
    inbox: int
    tickets: dict[str, str]  # name -> workflow id
    recorder: Recorder


async def _rows(pool, wid: str, kind: str) -> int:
    return await pool.fetchval(
        "SELECT count(*) FROM ticket_inputs WHERE workflow_id = $1 AND kind = $2", wid, kind
    )


async def record_scenario(env, pool, task_queue: str, cleanup: list[str]) -> Scenario:
    rec, inbox = Recorder(), int(uuid.uuid4().int % 10**8) + 1
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[*policy_activities(POLICIES_DIR, pool), *recording_activities(rec, pool)],
    ):
        hs = {
            name: await start(env, task_queue, cleanup, inbox_id=inbox)
            for name in ("late", "close_call", "early", "handoff")
        }
        await send_update(
            env.client,
            hs["handoff"].id,
            TicketWorkflow.acknowledge,
            Acknowledged(by="alicia"),
            source="cli",
        )
        await send_update(
            env.client,
            hs["handoff"].id,
            TicketWorkflow.request_escalation,
            Escalate(by="alicia", reason="refund_over_200", target="alliyson", payload=REFUND),
            source="console",
        )
        await env.sleep(timedelta(minutes=10))
        await send_update(
            env.client,
            hs["early"].id,
            TicketWorkflow.acknowledge,
            Acknowledged(by="alicia"),
            source="console",
        )
        await env.sleep(timedelta(minutes=15))
        await send_update(
            env.client,
            hs["close_call"].id,
            TicketWorkflow.acknowledge,
            Acknowledged(by="alicia"),
            source="cli",
        )
        await env.sleep(timedelta(minutes=40))  # 11:05: Lola paged at 10:30, Jonathan at 11:00
        await eventually(
            lambda: hs["late"].query(TicketWorkflow.status), lambda s: sum(1 for p in s.pages) >= 2
        )
        packs = Packs(POLICIES_DIR)
        for name in ("late", "close_call", "early"):
            outcome = await perform(
                env.client,
                hs[name].id,
                "resolve",
                "alicia",
                {"resolution": "refunded"},
                packs,
                None,
            )
            assert outcome.error is None, outcome.error
            assert outcome.status is not None and outcome.status.stage == "closed"
        for name in ("late", "close_call", "early"):
            await eventually(partial(_rows, pool, hs[name].id, "resolved"), lambda c: c == 1)
        # The handoff's ladder has run; its inputs and the ticket's are written beside their loops.
        await eventually(
            lambda: pool.fetchval(
                "SELECT count(*) FROM ticket_inputs WHERE workflow_id LIKE $1",
                hs["handoff"].id + ":handoff:%",
            ),
            lambda c: c >= 3,
        )
        await eventually(lambda: _rows(pool, hs["handoff"].id, "handoff_result"), lambda c: c >= 1)
    return Scenario(inbox, {name: h.id for name, h in hs.items()}, rec)


def draft_with_first_ack(directory, minutes: int):
    """The VIP pack with its first-acknowledgment SLA at `minutes` (a support lead's draft)."""
    text = (POLICIES_DIR / "vip-concierge.yaml").read_text()
    assert "    duration: 30m\n" in text
    text = text.replace("    duration: 30m\n", f"    duration: {minutes}m\n", 1)
    text = text.replace('version: "2026-11-22.1"', f'version: "draft-{minutes}m"', 1)
    path = directory / "vip-concierge.yaml"
    path.write_text(text)
    return path
