"""Tickets explain themselves in the Temporal Web UI: each ticket's (and
handoff's) current details is a Markdown board read through the SDK the way
the Web UI reads it (the `__temporal_workflow_metadata` query), and the
start sets a one-line static summary for the workflow list."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from temporalio.api.sdk.v1 import WorkflowMetadata

from client.gateway import for_web_ui
from models.signals import Escalate
from models.ticket import Contact
from models.ticket_input import TicketInput
from models.timezones import local_time, zone
from tests.helpers import eventually
from workflows.ticket import TicketWorkflow

CT = "America/Chicago"
TUESDAY_10 = datetime(2026, 11, 17, 10, tzinfo=zone(CT))
CHATWOOT = "https://chat.example.com/"


async def current_details(handle) -> str:
    """What the Web UI shows under "Current details"."""
    meta = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return meta.current_details


async def test_ticket_and_handoff_boards_say_who_what_and_until_when(
    ts_env, ticket_worker, cleanup, task_queue
):
    conv = int(uuid.uuid4().int % 10**6) + 1
    offset = (TUESDAY_10 - await ts_env.get_current_time()).total_seconds()
    ticket, ui = for_web_ui(
        TicketInput(
            account_id=1,
            conversation_id=conv,
            policy="vip-concierge",
            contact=Contact(name="Jane Doe", vip=True),
            created_at=TUESDAY_10,
            clock_offset_seconds=offset,
        ),
        CHATWOOT,
    )
    assert ui["static_summary"] == "VIP · Jane Doe · vip-concierge"
    wid = f"ticket-1-{conv}-{uuid.uuid4().hex[:6]}"
    handle = await ts_env.client.start_workflow(
        TicketWorkflow.run, ticket, id=wid, task_queue=task_queue, **ui
    )
    cleanup.append(handle.id)
    board = await eventually(lambda: current_details(handle), lambda b: "**Owner**" in b)
    assert "Alicia" in board and "running, deadline Tue 2026-11-17 10:30 CST (UTC-06:00)" in board
    assert f"({CHATWOOT}app/accounts/1/conversations/{conv})" in board

    # Nobody acknowledges: the 30-minute VIP clock breaches at 10:30 Chicago time, Lola
    # is paged and takes it.
    await ts_env.sleep(timedelta(minutes=31))
    board = await eventually(
        lambda: current_details(handle), lambda b: "BREACHED" in b and "Laura" in b
    )
    deadline = local_time(datetime(2026, 11, 17, 16, 30, tzinfo=zone("UTC")), CT)
    assert deadline == "Tue 2026-11-17 10:30 CST (UTC-06:00)"
    assert f"**VIP first acknowledgment 30m**: **BREACHED**, deadline {deadline}" in board
    assert "**Pages open** Laura Daniels (`lola`) triggered Tue 11-17 10:30 CST" in board
    assert "**Owner** Laura" in board and "(`lola`)" in board
    assert "Paged Laura" in board  # the last ladder steps

    # Lola escalates a refund over $200 to Alliyson: an open handoff with its deadline,
    # on both boards.
    await handle.execute_update(
        TicketWorkflow.request_escalation,
        Escalate(
            by="lola",
            reason="refund_over_200",
            payload={
                "issue_summary": "refund of $450",
                "alicia_already_tried": "store credit",
                "customer_emotional_state": "frustrated",
            },
        ),
    )
    board = await eventually(lambda: current_details(handle), lambda b: "**Open handoffs**" in b)
    status = await handle.query(TicketWorkflow.status)
    h = next(h for h in status.handoffs if h.status == "open")
    assert "**Over-authority escalation** (refund_over_200) → Alliyson" in board
    assert f"open until {local_time(h.deadline, CT)}" in board and "CST (UTC-06:00)" in board
    assert "**Stage** escalated" in board

    child = ts_env.client.get_workflow_handle(h.id)
    hboard = await eventually(lambda: current_details(child), lambda b: "**Deadline**" in b)
    assert (
        "**Over-authority escalation**" in hboard
        and "Alliyson" in hboard
        and "**State** open" in hboard
    )
    assert f"**Deadline** {local_time(h.deadline, CT)}" in hboard
    assert f"`{handle.id}`" in hboard and f"conversations/{conv})" in hboard
    cdesc = await child.describe()
    assert (await cdesc.static_summary()).startswith("Start handoff Over-authority escalation")
    assert "Issue summary: refund of $450" in await cdesc.static_details()


async def test_static_summary_reaches_the_workflow_list(ts_env, ticket_worker, cleanup, task_queue):
    ticket, ui = for_web_ui(
        TicketInput(
            account_id=1, conversation_id=7, policy="ops-ladder", contact=Contact(name="Sam Poe")
        ),
        None,
    )
    handle = await ts_env.client.start_workflow(
        TicketWorkflow.run, ticket, id=f"t-{uuid.uuid4().hex[:10]}", task_queue=task_queue, **ui
    )
    cleanup.append(handle.id)
    desc = await handle.describe()
    assert await desc.static_summary() == "Sam Poe · ops-ladder"
    assert "**Conversation** #7" in (await desc.static_details() or "")
