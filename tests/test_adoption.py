"""A ticket started for a conversation that already has a history in Chatwoot
adopts it: replies met before the start stop their clocks at their own
instant (no breach, no page), an unanswered conversation breaches at the
deadline counted from its creation, and no customer message that fell due
before the start goes out on a conversation older than the pack allows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.chatwoot import ChatwootActivities
from activities.reconcile import ReconcileActivities
from engine.core import TicketEngine
from engine.policy_loader import load_policy
from infra.settings import Settings, load_settings
from models.adoption import Adoption
from models.chatwoot import AdoptionInput
from models.reconcile import ReconcileInput
from models.signals import AgentReplied, CustomerReplied
from models.ticket import Contact, Ticket
from sandbox.chatwoot import create_chatwoot_app
from starter.chatwoot_history import adoption, read_messages
from tests.helpers import settled

TOKEN = "cw-token"
ACCOUNT = 5
AGENT = {"id": 7, "name": "Alicia", "type": "user"}
CUSTOMER = {"id": 12, "name": "Dana", "type": "contact"}
POLICIES = Path(__file__).resolve().parent.parent / "policies"
T0 = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)


def settings_for(task_queue: str = "tq") -> Settings:
    return load_settings(
        _env_file=None,
        chatwoot_base_url="http://cw",
        chatwoot_api_token=TOKEN,
        chatwoot_account_id=ACCOUNT,
        temporal_task_queue=task_queue,
    )


@asynccontextmanager
async def chatwoot() -> AsyncIterator[httpx.AsyncClient]:
    app = create_chatwoot_app(TOKEN, auto_create=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cw"
    ) as http:
        yield http


async def seed(cw: httpx.AsyncClient, conv: int, created: datetime, **kw: Any) -> None:
    body = {
        "account_id": ACCOUNT,
        "conversation_id": conv,
        "created_at": int(created.timestamp()),
        "contact": {"name": "Dana", "custom_attributes": {"vip": True}},
        **kw,
    }
    assert (await cw.post("/_sandbox/conversations", json=body)).status_code == 200


async def message(cw: httpx.AsyncClient, conv: int, kind: str, at: datetime) -> dict:
    sender = AGENT if kind == "outgoing" else CUSTOMER
    body = {"message_type": kind, "sender": sender, "created_at": int(at.timestamp())}
    r = await cw.post(f"/_sandbox/conversations/{ACCOUNT}/{conv}/messages", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def vip_ticket(events: list, *, started: timedelta = timedelta(minutes=40)) -> TicketEngine:
    pack = load_policy("vip-concierge", POLICIES)
    ticket = Ticket(
        account_id=1,
        conversation_id=7,
        policy=pack.name,
        contact=Contact(name="Dana", vip=True),
        created_at=T0,
        adopted=Adoption(at=T0 + started, events=events),
    )
    return TicketEngine.new(pack, ticket, "ticket-1-7")


def run(engine: TicketEngine, now: datetime) -> list:
    return engine.open(now) + engine.advance(now)


# ------------------------------------------------------------------ the engine


def test_a_reply_before_the_start_stops_the_acknowledgment_clock_at_its_instant():
    reply = AgentReplied(event_id="message:1", by="alicia", occurred_at=T0 + timedelta(minutes=5))
    engine = vip_ticket([reply])
    actions = run(engine, T0 + timedelta(minutes=40))
    assert engine.state.acknowledged_at == T0 + timedelta(minutes=5)
    assert engine.state.clocks["first_ack"].status == "stopped"
    assert not [a for a in actions if a.kind in ("sla.breached", "pagerduty.trigger")]
    # The auto-acknowledgment fell due at the conversation's creation, 40 minutes
    # before the ticket: on record as missed, not sent.
    assert not [a for a in actions if a.kind == "chatwoot.message"]
    (missed,) = [e for e in engine.state.ladder if e.action == "message.missed"]
    assert "adopt_messages_within" in missed.summary
    # The bridge's webhook of the same message later is a repeat.
    assert engine.receive(reply, T0 + timedelta(minutes=41)) == []


def test_without_a_reply_the_clock_breaches_at_the_deadline_from_creation():
    engine = vip_ticket([CustomerReplied(event_id="message:2", occurred_at=T0)])
    actions = run(engine, T0 + timedelta(minutes=40))
    (breach,) = [a for a in actions if a.kind == "sla.breached"]
    assert breach.at == T0 + timedelta(minutes=30)
    assert [a.at for a in actions if a.kind == "pagerduty.trigger"] == [breach.at]
    assert engine.sla_state() == "breached"


def test_a_reply_after_the_deadline_comes_after_the_breach():
    late = AgentReplied(event_id="message:3", by="alicia", occurred_at=T0 + timedelta(minutes=35))
    engine = vip_ticket([late])
    actions = run(engine, T0 + timedelta(minutes=40))
    assert [a.at for a in actions if a.kind == "sla.breached"] == [T0 + timedelta(minutes=30)]
    assert engine.state.acknowledged_at == T0 + timedelta(minutes=35)


def test_a_young_conversation_still_gets_its_acknowledgment():
    engine = vip_ticket([], started=timedelta(minutes=3))
    actions = run(engine, T0 + timedelta(minutes=3))
    assert [a.params.get("template") for a in actions if a.kind == "chatwoot.message"] == [
        "auto_ack"
    ]


def test_instants_are_kept_between_the_opening_and_now():
    early = AgentReplied(event_id="message:4", by="alicia", occurred_at=T0 - timedelta(hours=1))
    future = CustomerReplied(event_id="message:5", occurred_at=T0 + timedelta(days=1))
    engine = vip_ticket([future, early])
    run(engine, T0 + timedelta(minutes=40))
    assert engine.state.acknowledged_at == T0  # clamped to the opening


async def test_the_history_is_read_page_by_page_and_kept_without_bodies():
    async with chatwoot() as cw:
        await seed(cw, 901, T0)
        for i in range(45):  # three pages of 20
            await message(cw, 901, "incoming", T0 + timedelta(minutes=i))
        await message(cw, 901, "outgoing", T0 + timedelta(minutes=50))
        settings = settings_for()
        msgs = await read_messages(ChatwootActivities(cw, settings), ACCOUNT, 901)
        assert len(msgs) == 46 and [m["id"] for m in msgs] == sorted(m["id"] for m in msgs)
        conv = (
            await cw.get(
                f"/api/v1/accounts/{ACCOUNT}/conversations/901",
                headers={"api_access_token": TOKEN},
            )
        ).json()
    adopted = adoption(conv, msgs, ACCOUNT, settings.policy_for_inbox, T0 + timedelta(hours=1))
    # A run of customer messages: its first and its last, then the reply.
    assert [(e.kind, e.occurred_at) for e in adopted.events] == [
        ("customer_replied", T0),
        ("customer_replied", T0 + timedelta(minutes=44)),
        ("agent_replied", T0 + timedelta(minutes=50)),
    ]
    assert "hello" not in adopted.model_dump_json()


# -------------------------------------------------- on the time-skipping server


async def start(acts: ReconcileActivities) -> None:
    result = await ActivityEnvironment().run(
        acts.sync_open_conversations, ReconcileInput(account_id=ACCOUNT)
    )
    assert result.started == 1


def first_ack(status: Any) -> Any:
    return next(c for c in status.clocks if c.name == "first_ack")


async def opened_as_adopted(ts_env, handle, created: datetime, answered: bool) -> Any:
    """A 40-minute-old VIP conversation's ticket, adopted: opened at the conversation's
    creation; answered at +5 minutes, acknowledged then and nobody paged in two hours
    (the server's clock skips them); unanswered, breached at creation + 30 minutes and
    paged once. Its first status."""
    status = await settled(handle)
    ack = first_ack(status)
    assert status.card is not None and status.card.opened_at == created.replace(microsecond=0)
    if answered:
        assert ack.status == "stopped"
        assert status.acknowledged_at == (created + timedelta(minutes=5)).replace(microsecond=0)
        await ts_env.sleep(timedelta(hours=2))
        later = await settled(handle)
        assert later.pages == []
        assert not [e for e in later.ladder if e.action == "sla.breached"]
    else:
        assert ack.status == "breached"
        assert ack.breached_at == ack.deadline == status.card.opened_at + timedelta(minutes=30)
        assert len(status.pages) == 1
    return status


@pytest.mark.parametrize("answered", [False, True])  # the server clock: unslept first
async def test_reconciliation_adopts_what_chatwoot_knows(
    ts_env, ticket_worker, cleanup, task_queue, answered
):
    conv = 911 if answered else 912
    wid = f"ticket-{ACCOUNT}-{conv}"
    cleanup.append(wid)
    created = datetime.now(UTC) - timedelta(minutes=40)
    async with chatwoot() as cw:
        await seed(cw, conv, created)
        await message(cw, conv, "incoming", created)
        if answered:
            await message(cw, conv, "outgoing", created + timedelta(minutes=5))
        await message(cw, conv, "incoming", created + timedelta(minutes=38))  # active now
        await start(ReconcileActivities(cw, settings_for(task_queue), ts_env.client))
        handle = ts_env.client.get_workflow_handle(wid)
        status = await opened_as_adopted(ts_env, handle, created, answered)
        if not answered:
            assert status.pages[0].at == first_ack(status).deadline
        # Neither conversation, 40 minutes old, got the auto-acknowledgment.
        assert ticket_worker.of("chatwoot.message") == []
        assert [e.action for e in status.ladder if e.action == "message.missed"] == [
            "message.missed"
        ]


@pytest.mark.parametrize("history", ["unanswered", "unreadable", "answered"])  # sleeps last
async def test_a_ticket_the_bridge_starts_for_an_old_conversation_adopts_its_history(
    ts_env, pg_pool, cleanup, task_queue, history
):
    """Go-live, or a lost `conversation_created`: the first webhook ticketflow gets
    of a 40-minute-old conversation is the customer's new message. The ticket reads
    the conversation's history before it opens: answered at +5 minutes, it is not
    breached and pages nobody; unanswered, it breaches at the deadline counted from
    the conversation's creation. When Chatwoot cannot be read the ticket still opens
    and pages as an unanswered one. None gets the catch-up auto-acknowledgment."""
    from temporalio.worker import Worker

    from activities.adoption import AdoptionActivities
    from activities.policy import policy_activities
    from client.gateway import TemporalGateway
    from sandbox.recording import Recorder, recording_activities
    from starter.chatwoot_events import Route, route
    from starter.delivery import deliver
    from tests import payloads
    from workflows.handoff import HandoffWorkflow
    from workflows.ticket import TicketWorkflow

    answered = history == "answered"
    conv = {"unanswered": 931, "answered": 932, "unreadable": 933}[history]
    wid = f"ticket-{ACCOUNT}-{conv}"
    cleanup.append(wid)
    # The test server's clock: earlier tests may have skipped it ahead of the wall clock.
    created = (await ts_env.get_current_time()) - timedelta(minutes=40)
    settings = settings_for(task_queue)
    rec = Recorder()
    async with chatwoot() as cw:
        await seed(cw, conv, created)
        await message(cw, conv, "incoming", created)
        if answered:
            await message(cw, conv, "outgoing", created + timedelta(minutes=5))
        latest = await message(cw, conv, "incoming", created + timedelta(minutes=38))
        stand_ins = [a for a in recording_activities(rec, pg_pool) if a.__name__ != "read_adoption"]

        @activity.defn(name="chatwoot.read_adoption")
        async def unreadable(inp: AdoptionInput) -> Adoption:
            raise ApplicationError("Chatwoot answered 503", non_retryable=True)

        reader = AdoptionActivities(cw, settings).read_adoption
        async with Worker(
            ts_env.client,
            task_queue=task_queue,
            workflows=[TicketWorkflow, HandoffWorkflow],
            activities=[
                *policy_activities(POLICIES),
                *stand_ins,
                unreadable if history == "unreadable" else reader,
            ],
        ):
            webhook = payloads.message("incoming", conv_id=conv, account_id=ACCOUNT)
            webhook.update(id=latest["id"], created_at=latest["created_at"])
            webhook["conversation"]["created_at"] = int(created.timestamp())
            r = route(webhook, account_id=ACCOUNT, policy_for_inbox=settings.policy_for_inbox)
            assert isinstance(r, Route) and r.signal == "customer_replied"
            await deliver(TemporalGateway(settings, ts_env.client), r, task_queue)
            handle = ts_env.client.get_workflow_handle(wid)
            status = await opened_as_adopted(ts_env, handle, created, answered)
            assert rec.of("chatwoot.message") == []
            assert "message.missed" in [e.action for e in status.ladder]
