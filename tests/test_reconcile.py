"""Reconciliation starts tickets for open conversations the bridge missed,
once; and the schedule that runs it is created idempotently."""

from __future__ import annotations

import httpx
import pytest
from temporalio.testing import ActivityEnvironment

from activities.reconcile import ReconcileActivities
from infra.settings import load_settings
from models.reconcile import ReconcileInput
from sandbox.chatwoot import create_chatwoot_app
from workflows.ticket import TicketWorkflow

TOKEN = "cw-token"


@pytest.fixture
async def sandbox():
    app = create_chatwoot_app(TOKEN, auto_create=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cw"
    ) as http:
        for conv, status in ((801, "open"), (802, "open"), (803, "resolved")):
            await http.post(
                "/_sandbox/conversations",
                json={
                    "account_id": 4,
                    "conversation_id": conv,
                    "status": status,
                    "contact": {"name": "Dana", "custom_attributes": {"vip": True}},
                },
            )
        yield http


async def test_missed_conversations_get_exactly_one_ticket(
    ts_env, ticket_worker, cleanup, task_queue, sandbox
):
    cleanup += ["ticket-4-801", "ticket-4-802"]
    settings = load_settings(
        _env_file=None,
        chatwoot_base_url="http://cw",
        chatwoot_api_token=TOKEN,
        chatwoot_account_id=4,
        temporal_task_queue=task_queue,
    )
    acts = ReconcileActivities(sandbox, settings, ts_env.client)
    first = await ActivityEnvironment().run(
        acts.sync_open_conversations, ReconcileInput(account_id=4)
    )
    assert (first.seen, first.started) == (2, 2)  # the resolved conversation is not listed
    again = await ActivityEnvironment().run(
        acts.sync_open_conversations, ReconcileInput(account_id=4)
    )
    assert (again.seen, again.started) == (2, 0)
    status = await ts_env.client.get_workflow_handle("ticket-4-801").query(TicketWorkflow.status)
    assert status.ticket_id == "ticket-4-801"
