"""Reconciliation starts tickets for open conversations the bridge missed,
once, and recovers the replies and resolutions a running ticket missed,
each once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment

from activities.reconcile import ReconcileActivities, pending_wanted, would_change
from client.gateway import TemporalGateway
from infra.settings import Settings, load_settings
from models.reconcile import ReconcileInput, ReconcileResult
from models.signals import AgentReplied, Reopened, Resolved
from models.state import ClockState
from models.status import TicketStatus
from sandbox.chatwoot import create_chatwoot_app
from starter.chatwoot_events import Route, route
from starter.delivery import deliver
from tests import payloads
from tests.helpers import settled
from workflows.ticket import TicketWorkflow

TOKEN = "cw-token"
ACCOUNT = 4
LIFECYCLE_INBOX = 2  # mapped to the lifecycle pack; other inboxes get vip-concierge
AGENT = {"id": 7, "name": "Alicia", "type": "user"}
CUSTOMER = {"id": 12, "name": "Dana", "type": "contact"}


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
                    "account_id": ACCOUNT,
                    "conversation_id": conv,
                    "status": status,
                    "contact": {"name": "Dana", "custom_attributes": {"vip": True}},
                },
            )
        yield http


@asynccontextmanager
async def chatwoot(conv: int, inbox_id: int = 1) -> AsyncIterator[httpx.AsyncClient]:
    """A Chatwoot stand-in holding one open VIP conversation."""
    app = create_chatwoot_app(TOKEN, auto_create=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cw"
    ) as http:
        await http.post(
            "/_sandbox/conversations",
            json={
                "account_id": ACCOUNT,
                "conversation_id": conv,
                "inbox_id": inbox_id,
                "contact": {"name": "Dana", "custom_attributes": {"vip": True}},
            },
        )
        yield http


def settings_for(task_queue: str) -> Settings:
    return load_settings(
        _env_file=None,
        chatwoot_base_url="http://cw",
        chatwoot_api_token=TOKEN,
        chatwoot_account_id=ACCOUNT,
        temporal_task_queue=task_queue,
        inbox_policies={LIFECYCLE_INBOX: "lifecycle"},
    )


async def reconcile(acts: ReconcileActivities, **kw: Any) -> ReconcileResult:
    return await ActivityEnvironment().run(
        acts.sync_open_conversations, ReconcileInput(account_id=ACCOUNT, **kw)
    )


async def post_message(
    cw: httpx.AsyncClient, conv: int, kind: str, sender: dict, at: datetime | None = None
) -> dict:
    """A message in Chatwoot whose webhook never reached the bridge."""
    body: dict[str, Any] = {"message_type": kind, "sender": sender}
    if at is not None:
        body["created_at"] = int(at.timestamp())
    r = await cw.post(f"/_sandbox/conversations/{ACCOUNT}/{conv}/messages", json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def set_status(cw: httpx.AsyncClient, conv: int, status: str) -> None:
    r = await cw.post(
        f"/api/v1/accounts/{ACCOUNT}/conversations/{conv}/toggle_status",
        headers={"api_access_token": TOKEN},
        json={"status": status},
    )
    assert r.status_code == 200, r.text


async def signals(handle, name: str) -> list[dict]:
    """The payloads of every `name` signal in the ticket's history."""
    out = []
    async for e in handle.fetch_history_events():
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            attrs = e.workflow_execution_signaled_event_attributes
            if attrs.signal_name == name:
                out.append(json.loads(attrs.input.payloads[0].data))
    return out


def clock(status: TicketStatus, name: str):
    return next(c for c in status.clocks if c.name == name)


async def test_missed_conversations_get_exactly_one_ticket(
    ts_env, ticket_worker, cleanup, task_queue, sandbox
):
    cleanup += ["ticket-4-801", "ticket-4-802"]
    acts = ReconcileActivities(sandbox, settings_for(task_queue), ts_env.client)
    first = await reconcile(acts)
    # The resolved conversation is looked at (its ticket, if any, may need the
    # resolution) but never started.
    assert (first.seen, first.started) == (3, 2)
    again = await reconcile(acts)
    assert (again.seen, again.started) == (3, 0)
    assert (again.replies_recovered, again.statuses_recovered) == (0, 0)
    status = await ts_env.client.get_workflow_handle("ticket-4-801").query(TicketWorkflow.status)
    assert status.ticket_id == "ticket-4-801"
    bounded = await reconcile(acts, max_conversations=1)
    assert bounded.seen == 1


async def test_a_lost_agent_reply_stops_the_vip_clocks_once(
    ts_env, ticket_worker, cleanup, task_queue
):
    cleanup.append("ticket-4-811")
    async with chatwoot(811) as cw:
        settings = settings_for(task_queue)
        acts = ReconcileActivities(cw, settings, ts_env.client)
        assert (await reconcile(acts)).started == 1
        handle = ts_env.client.get_workflow_handle("ticket-4-811")
        before = await settled(handle)
        assert clock(before, "first_ack").status == "running"

        reply = await post_message(cw, 811, "outgoing", AGENT)
        first = await reconcile(acts)
        assert (first.replies_recovered, first.statuses_recovered) == (1, 0)
        after = await settled(handle)
        assert after.acknowledged_by == "alicia"
        assert clock(after, "first_ack").status == "stopped"
        assert clock(after, "first_response").status == "stopped"
        assert not [c for c in after.clocks if c.status == "running"]

        again = await reconcile(acts)
        assert again.replies_recovered == 0
        sent = await signals(handle, "agent_replied")
        assert [(s["event_id"], s["source"]) for s in sent] == [
            (f"message:{reply['id']}", "system")
        ]
        assert sent[0]["occurred_at"].startswith(
            datetime.fromtimestamp(reply["created_at"], UTC).isoformat()[:19]
        )

        # The bridge's webhook for the same message arrives late: it carries the
        # same event id, so the ticket drops it (engine `seen_events`).
        webhook = payloads.message("outgoing", conv_id=811, account_id=ACCOUNT, msg_id=reply["id"])
        webhook["sender"] = AGENT
        late = route(webhook, account_id=ACCOUNT, policy_for_inbox=settings.policy_for_inbox)
        assert isinstance(late, Route) and isinstance(late.arg, AgentReplied)
        await deliver(TemporalGateway(settings, ts_env.client), late, task_queue)
        ids = [s["event_id"] for s in await signals(handle, "agent_replied")]
        assert ids == [f"message:{reply['id']}"] * 2
        final = await settled(handle)
        assert len([e for e in final.ladder if e.action == "acknowledged"]) == 1

        # Nothing is due that would page anyone: the SLA time passes quietly.
        await ts_env.sleep(timedelta(hours=2))
        assert (await settled(handle)).pages == []


async def test_a_lost_resolution_closes_the_ticket_and_nothing_restarts_it(
    ts_env, ticket_worker, cleanup, task_queue
):
    cleanup.append("ticket-4-821")
    async with chatwoot(821) as cw:
        acts = ReconcileActivities(cw, settings_for(task_queue), ts_env.client)
        assert (await reconcile(acts)).started == 1
        handle = ts_env.client.get_workflow_handle_for(TicketWorkflow.run, "ticket-4-821")
        await settled(handle)

        await set_status(cw, 821, "resolved")  # resolved in Chatwoot; the webhook was lost
        first = await reconcile(acts)
        assert (first.replies_recovered, first.statuses_recovered) == (0, 1)
        final = await handle.result()
        assert final.stage == "closed" and final.resolved_at is not None
        (resolved,) = await signals(handle, "resolved")
        assert resolved["by"] == "chatwoot" and resolved["event_id"].startswith("status:resolved:")

        # Reopened in Chatwoot with an agent reply: reconciliation starts nothing
        # and signals nothing (a reopen webhook starts the next ticket).
        run_id = (await handle.describe()).run_id
        await set_status(cw, 821, "open")
        await post_message(cw, 821, "outgoing", AGENT)
        again = await reconcile(acts)
        assert (again.started, again.replies_recovered, again.statuses_recovered) == (0, 0, 0)
        desc = await handle.describe()
        assert desc.status == WorkflowExecutionStatus.COMPLETED and desc.run_id == run_id


async def test_a_lost_customer_message_after_the_reply_reopens_a_resolved_ticket(
    ts_env, ticket_worker, cleanup, task_queue
):
    cleanup.append("ticket-4-831")
    async with chatwoot(831, inbox_id=LIFECYCLE_INBOX) as cw:
        acts = ReconcileActivities(cw, settings_for(task_queue), ts_env.client)
        assert (await reconcile(acts)).started == 1
        handle = ts_env.client.get_workflow_handle("ticket-4-831")
        assert (await settled(handle)).policy == "lifecycle"

        # The agent answered and resolved: both webhooks reached the ticket.
        reply = await post_message(cw, 831, "outgoing", AGENT)
        await handle.signal(
            TicketWorkflow.agent_replied,
            AgentReplied(event_id=f"message:{reply['id']}", by="alicia", source="webhook"),
        )
        await set_status(cw, 831, "resolved")
        await handle.signal(
            TicketWorkflow.resolved, Resolved(event_id="status:resolved:1", by="chatwoot")
        )
        resolved = await settled(handle)
        assert resolved.stage == "resolved"
        assert clock(resolved, "verification").status == "running"

        # The customer writes again (Chatwoot reopens the conversation); that webhook is lost.
        await set_status(cw, 831, "open")
        assert resolved.now is not None
        said = await post_message(
            cw, 831, "incoming", CUSTOMER, resolved.now + timedelta(seconds=1)
        )
        first = await reconcile(acts)
        assert (first.replies_recovered, first.statuses_recovered) == (1, 0)
        after = await settled(handle)
        assert clock(after, "verification").status == "stopped"
        assert after.stage == "open"  # the pack's `on: customer_replied` rule reopened it
        again = await reconcile(acts)
        assert again.replies_recovered == 0
        sent = await signals(handle, "customer_replied")
        assert [s["event_id"] for s in sent] == [f"message:{said['id']}"]
        # The agent reply before it was neither needed nor sent again.
        assert len(await signals(handle, "agent_replied")) == 1


async def test_what_the_webhooks_delivered_is_not_sent_again(
    ts_env, ticket_worker, cleanup, task_queue
):
    cleanup.append("ticket-4-841")
    async with chatwoot(841) as cw:
        settings = settings_for(task_queue)
        acts = ReconcileActivities(cw, settings, ts_env.client)
        assert (await reconcile(acts)).started == 1
        handle = ts_env.client.get_workflow_handle("ticket-4-841")
        await settled(handle)
        gateway = TemporalGateway(settings, ts_env.client)
        for kind, sender in (("outgoing", AGENT), ("incoming", CUSTOMER)):
            msg = await post_message(cw, 841, kind, sender)
            webhook = payloads.message(kind, conv_id=841, account_id=ACCOUNT, msg_id=msg["id"])
            webhook["sender"], webhook["created_at"] = sender, msg["created_at"]
            r = route(webhook, account_id=ACCOUNT, policy_for_inbox=settings.policy_for_inbox)
            assert isinstance(r, Route)
            await deliver(gateway, r, task_queue)
        await settled(handle)
        result = await reconcile(acts)
        assert (result.replies_recovered, result.statuses_recovered) == (0, 0)
        assert len(await signals(handle, "agent_replied")) == 1
        assert len(await signals(handle, "customer_replied")) == 1


async def test_a_ticket_reopened_in_ticketflow_is_not_resolved_again(
    ts_env, ticket_worker, cleanup, task_queue
):
    """The conversation is still resolved in Chatwoot only because the
    ticket's reopen has not reached it: the ticket's view is the newer one."""
    cleanup.append("ticket-4-851")
    async with chatwoot(851, inbox_id=LIFECYCLE_INBOX) as cw:
        acts = ReconcileActivities(cw, settings_for(task_queue), ts_env.client)
        assert (await reconcile(acts)).started == 1
        handle = ts_env.client.get_workflow_handle("ticket-4-851")
        await settled(handle)
        await set_status(cw, 851, "resolved")
        await handle.signal(
            TicketWorkflow.resolved, Resolved(event_id="status:resolved:1", by="chatwoot")
        )
        await settled(handle)
        await handle.execute_update(TicketWorkflow.reopen, Reopened(by="lola"))
        assert (await settled(handle)).stage == "open"
        result = await reconcile(acts)
        assert result.statuses_recovered == 0
        assert (await settled(handle)).stage == "open"


def _status(*clocks: ClockState) -> TicketStatus:
    return TicketStatus(ticket_id="t", policy="p", stage="open", clocks=list(clocks))


def test_a_pending_status_is_sent_only_while_it_would_change_a_clock():
    t0 = datetime(2026, 11, 17, 16, tzinfo=UTC)
    spec = SimpleNamespace(starts_on=[], stops_on=["status_pending"], restart_on=[])
    pack = {"waiting_on_us": spec}
    running = ClockState(
        name="waiting_on_us",
        title="t",
        status="running",
        started_at=t0,
        deadline=t0 + timedelta(hours=1),
        armed_at=t0,
    )
    later = t0 + timedelta(minutes=5)
    assert pending_wanted(_status(running), later, pack)
    assert not pending_wanted(_status(running), t0 - timedelta(minutes=5), pack)  # armed after it
    stopped = running.model_copy(update={"status": "stopped", "stopped_at": later})
    assert not pending_wanted(_status(stopped), later, pack)  # the ticket already had it
    assert not pending_wanted(_status(running), later, {})  # a pack that ignores it

    starts = {"c": SimpleNamespace(starts_on=["customer_replied"], stops_on=[], restart_on=[])}
    assert would_change(frozenset({"customer_replied"}), later, _status(), starts)
    armed = running.model_copy(update={"name": "c"})
    assert not would_change(frozenset({"customer_replied"}), later, _status(armed), starts)
    restarts = {"c": SimpleNamespace(starts_on=[], stops_on=[], restart_on=["agent_replied"])}
    assert would_change(frozenset({"agent_replied"}), later, _status(armed), restarts)
    assert not would_change(frozenset({"agent_replied"}), t0, _status(armed), restarts)


async def test_the_stand_in_lists_every_status_most_recently_active_first():
    """What reconciliation asks is what Chatwoot answers: `status=all`, and
    `sort_by=last_activity_at_desc` (Chatwoot's default order)."""
    async with chatwoot(861) as cw:
        for conv, status in ((862, "resolved"), (863, "snoozed")):
            await cw.post(
                "/_sandbox/conversations",
                json={"account_id": ACCOUNT, "conversation_id": conv, "status": status},
            )
        await post_message(cw, 862, "incoming", CUSTOMER, datetime.now(UTC) + timedelta(minutes=1))
        r = await cw.get(
            f"/api/v1/accounts/{ACCOUNT}/conversations",
            params={"status": "all", "sort_by": "last_activity_at_desc"},
            headers={"api_access_token": TOKEN},
        )
        listed = [(c["id"], c["status"]) for c in r.json()["data"]["payload"]]
        assert listed[0] == (862, "resolved")
        assert sorted(listed) == [(861, "open"), (862, "resolved"), (863, "snoozed")]
