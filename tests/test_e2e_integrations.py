"""End to end on a real Temporal dev server and real Postgres, with real HTTP:
signed Chatwoot webhooks -> bridge -> VIP ticket -> real Chatwoot and
PagerDuty activities -> the sandbox stand-ins; a PagerDuty V3 webhook stops
the ladder. A copy of the VIP pack with second-long SLAs runs on this
real-time server.

What did not happen (nobody else paged, no second message) is read from
state, never after a sleep: the ticket's status says what it still waits
for (its next wake, its running clocks, its open handoffs), Temporal says
it has nothing in flight (every action it decided has completed, retries
included), and the stand-ins say they are answering no call; only then are
their recorded calls counted."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from dryrun.simulate import terminate_ticket_tree
from engine.policy_loader import load_policy
from infra.http_server import InProcessServer
from infra.settings import load_settings
from models.policy import Policy
from models.state import ClockState
from models.status import TicketStatus
from sandbox.chatwoot import create_chatwoot_app
from sandbox.pagerduty import create_pagerduty_app
from starter.signatures import sign_pagerduty
from tests import payloads
from tests.helpers import (
    POLICIES_DIR,
    InFlight,
    eventually,
    now_value,
    settled,
    signed,
    worker_and_bridge,
)
from tests.replay_check import assert_replay_equals_reality
from workflows.ticket import TicketWorkflow

pytestmark = pytest.mark.e2e

SECRET, PD_SECRET, TOKEN = "whsec-e2e", "pdsec-e2e", "cw-e2e-token"
KEYS = {"lola": "L" * 32, "jonathan": "J" * 32, "alicia": "A" * 32}


def fast_pack(directory: Path) -> None:
    """vip-concierge with the ack SLA at 2 s, Jonathan's page 3 s later, Alicia always covering."""
    text = (POLICIES_DIR / "vip-concierge.yaml").read_text()
    text = text.replace("name: vip-concierge", "name: vip-fast", 1)
    text = text.replace("    duration: 30m\n", "    duration: 2s\n", 1)
    text = text.replace(
        "{do: page, target: backup2, after: 30m,", "{do: page, target: backup2, after: 3s,", 1
    )
    # real time decides coverage on this server: give VIPs to Alicia at any hour
    text = text.replace(
        "- {owner: alicia, when: {vip: true}, calendar: alicia_shift}",
        "- {owner: alicia, when: {vip: true}}",
    )
    (directory / "vip-fast.yaml").write_text(text)


@dataclass
class Stack:
    bridge: str
    cw: FastAPI  # the Chatwoot stand-in: `cw.state.chatwoot`, `cw.state.recorder`
    pd: FastAPI  # the PagerDuty stand-in: `pd.state.alerts`, `pd.state.recorder`
    cw_url: str
    pd_url: str
    client: Client
    pack: Policy  # the fast pack the tickets run
    in_flight: list[InFlight]  # the stand-ins, counting the calls they are still answering
    started: list[str] = field(default_factory=list)

    def ticket(self, conv: int) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(f"ticket-1-{conv}")

    async def quiet(self, conv: int, timeout: float = 60.0) -> TicketStatus:
        """The ticket's status once every action it decided has completed
        (retries included) and the stand-ins answer no call: what they
        recorded is then all the ticket will have sent before its next wake."""
        status = await settled(self.ticket(conv), timeout)
        for stand_in in self.in_flight:
            await stand_in.idle(timeout)
        return status


@asynccontextmanager
async def stack(
    dev_env: WorkflowEnvironment, pg_dsn: str, tmp_path: Path, http_timeout: float = 10.0
) -> AsyncIterator[Stack]:
    fast_pack(tmp_path)
    cw_app, pd_app = (
        create_chatwoot_app(TOKEN, auto_create=True),
        create_pagerduty_app(set(KEYS.values())),
    )
    in_flight = [InFlight(cw_app), InFlight(pd_app)]
    cw = await InProcessServer(in_flight[0]).start()
    pd = await InProcessServer(in_flight[1]).start()
    queue = f"e2e-{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        _env_file=None,
        temporal_task_queue=queue,
        database_url=pg_dsn,
        chatwoot_base_url=cw.url,
        chatwoot_api_token=TOKEN,
        chatwoot_account_id=1,
        pagerduty_events_url=pd.url,
        pagerduty_routing_keys=json.dumps(KEYS),
        webhook_secret=SECRET,
        pagerduty_webhook_secret=PD_SECRET,
        policies_dir=tmp_path,
        default_policy="vip-fast",
    )
    started: list[str] = []
    try:
        async with worker_and_bridge(settings, dev_env.client, pg_dsn, http_timeout) as (
            bridge,
            _pool,
        ):
            yield Stack(
                bridge=bridge,
                cw=cw_app,
                pd=pd_app,
                cw_url=cw.url,
                pd_url=pd.url,
                client=dev_env.client,
                pack=load_policy("vip-fast", tmp_path),
                in_flight=in_flight,
                started=started,
            )
            # Replay equals reality: each ticket's recorded inputs replay to its audit
            # trail (dryrun/reality.py).
            if started:
                assert await assert_replay_equals_reality(pg_dsn, sorted(set(started))) == len(
                    set(started)
                )
            for wid in started:
                await terminate_ticket_tree(dev_env.client, wid, "test cleanup")
    finally:
        await cw.stop()
        await pd.stop()


async def post_chatwoot(s: Stack, body: dict, secret: str = SECRET) -> httpx.Response:
    raw = json.dumps(body).encode()
    async with httpx.AsyncClient() as c:
        resp = await c.post(
            s.bridge + "/webhooks/chatwoot",
            content=raw,
            headers={"content-type": "application/json", **signed(secret, raw)},
        )
    if resp.status_code == 202 and resp.json().get("workflow_id"):
        s.started.append(resp.json()["workflow_id"])
    return resp


async def post_pagerduty(s: Stack, event_type: str, incident_key: str) -> httpx.Response:
    raw = json.dumps(
        {
            "event": {
                "id": uuid.uuid4().hex,
                "event_type": event_type,
                "resource_type": "incident",
                "agent": {"summary": "Laura Daniels", "type": "user_reference"},
                "data": {
                    "id": "Q1",
                    "type": "incident",
                    "incident_key": incident_key,
                    "status": event_type.split(".")[1],
                },
            }
        }
    ).encode()
    async with httpx.AsyncClient() as c:
        return await c.post(
            s.bridge + "/webhooks/pagerduty",
            content=raw,
            headers={
                "content-type": "application/json",
                "X-PagerDuty-Signature": sign_pagerduty(PD_SECRET, raw),
            },
        )


def outgoing(s: Stack, conv: int, private: bool | None = None) -> list[dict]:
    conversation = s.cw.state.chatwoot.conversations.get((1, conv))
    msgs = conversation["messages"] if conversation else []
    return [m for m in msgs if private is None or m["private"] is private]


def pages_ahead(s: Stack, status: TicketStatus) -> list[str]:
    """What the ticket still waits for that would page someone: a pending
    ladder step, a running clock whose breach pages, an open handoff (its
    on-failure ladder pages).

    The status shows pending steps through `next_wakeup`, the earliest of
    the running clocks' deadlines and the steps' due times: the ticket
    waits for a step when no running clock is due then. (A step due after
    a clock would hide behind it; the fast pack's steps are due seconds
    after their breach, the clocks left run for an hour.)"""
    running = [c for c in status.clocks if c.status == "running"]
    ahead = []
    if status.next_wakeup != min((c.deadline for c in running), default=None):
        ahead.append(f"a ladder step due {status.next_wakeup}")
    ahead += [
        f"clock {c.name}, whose breach pages"
        for c in running
        if any(step.do == "page" for step in s.pack.clocks[c.name].on_breach)
    ]
    ahead += [f"handoff {h.name}" for h in status.open_handoffs]
    return ahead


def clock(status: TicketStatus, name: str) -> ClockState:
    [found] = [c for c in status.clocks if c.name == name]
    return found


def new_conversation(conv: int) -> dict:
    body = payloads.conversation(conv_id=conv)
    body.pop("created_at")  # created now
    return body


async def test_webhook_to_auto_ack_to_page_and_a_pagerduty_ack_stops_the_ladder(
    dev_env, postgres_dsn, tmp_path
):
    async with stack(dev_env, postgres_dsn, tmp_path) as s:
        conv = 7001
        runs = {(await post_chatwoot(s, new_conversation(conv))).json()["run_id"] for _ in range(3)}
        assert len(runs) == 1  # redelivered three times: one ticket
        [ack] = await eventually(
            lambda: now_value(outgoing(s, conv, private=False)), lambda m: len(m) >= 1
        )
        assert ack["content"].startswith("Hi Dana") and ack["message_type"] == 1
        alerts = await eventually(
            lambda: now_value(s.pd.state.alerts), lambda a: len(a) >= 1, timeout=30
        )
        [(key, alert)] = alerts.items()
        assert (
            key.startswith(f"ticket-1-{conv}:") and alert["routing_key_suffix"] == KEYS["lola"][-4:]
        )
        resp = await post_pagerduty(s, "incident.acknowledged", key)
        assert resp.status_code == 202 and resp.json()["status"] == "accepted"
        handle = s.ticket(conv)
        status = await eventually(
            lambda: handle.query(TicketWorkflow.status),
            lambda st: any(p.status == "acknowledged" for p in st.pages),
            timeout=30,
        )
        assert any("stopped" in entry.summary for entry in status.ladder)
        # The ack took Jonathan's page off the ladder: nothing the ticket waits for pages
        # anyone (had the step stayed, the ticket's next wake would be it, 3 s after the
        # breach), and everything it did send has landed.
        status = await s.quiet(conv)
        assert pages_ahead(s, status) == [], status
        assert [(p.target, p.status) for p in status.pages] == [("lola", "acknowledged")]
        assert list(s.pd.state.alerts) == [key]  # nobody else was paged
        assert len(outgoing(s, conv, private=False)) == 1  # still one auto-ack


async def test_agent_reply_acknowledges_and_bad_requests_get_4xx(dev_env, postgres_dsn, tmp_path):
    async with stack(dev_env, postgres_dsn, tmp_path) as s:
        conv = 7002
        assert (await post_chatwoot(s, new_conversation(conv))).status_code == 202
        reply = payloads.message(
            "outgoing",
            conv_id=conv,
            sender_type="user",
            sender_name="Alicia Garrett",
            sender_email="alicia@hempdash.example",
            msg_id=9,
        )
        assert (await post_chatwoot(s, reply)).json()["signal"] == "agent_replied"
        handle = s.ticket(conv)
        status = await eventually(
            lambda: handle.query(TicketWorkflow.status), lambda st: st.stage == "acknowledged"
        )
        assert status.owner == "alicia"
        # Acknowledged in time: the ack clock stopped before its breach, nothing the
        # ticket waits for pages anyone, and every call it made has landed.
        status = await s.quiet(conv)
        assert clock(status, "first_ack").status == "stopped", status.clocks
        assert pages_ahead(s, status) == [] and not status.pages, status
        assert "vip_acked" in s.cw.state.chatwoot.conversations[(1, conv)]["labels"]
        assert not s.pd.state.alerts and not s.pd.state.recorder.calls  # nobody paged
        assert (await post_chatwoot(s, new_conversation(7003), secret="wrong")).status_code == 401
        async with httpx.AsyncClient() as c:
            for raw, code in [
                (b"{", 400),
                (json.dumps({"event": "conversation_created"}).encode(), 422),
                (b"x" * 300_000, 413),
            ]:
                r = await c.post(
                    s.bridge + "/webhooks/chatwoot",
                    content=raw,
                    headers={"content-type": "application/json", **signed(SECRET, raw)},
                )
                assert r.status_code == code and "error" in r.json()
            r = await c.post(
                s.bridge + "/webhooks/pagerduty",
                content=b'{"event": {}}',
                headers={"content-type": "application/json", "X-PagerDuty-Signature": "v1=00"},
            )
            assert r.status_code == 401


async def test_every_action_lands_exactly_once_with_30_percent_failures(
    dev_env, postgres_dsn, tmp_path
):
    async with stack(dev_env, postgres_dsn, tmp_path, http_timeout=1.0) as s:
        async with httpx.AsyncClient() as c:
            faults = {
                "rate": 0.3,
                "kinds": [429, 500, 503, "timeout"],
                "timeout_seconds": 1.5,
                "seed": 7,
            }
            await c.post(s.cw_url + "/_sandbox/faults", json=faults)
            await c.post(s.pd_url + "/_sandbox/faults", json={**faults, "seed": 11})
        conv = 7004
        assert (await post_chatwoot(s, new_conversation(conv))).status_code == 202
        handle = s.ticket(conv)
        # the whole ladder: auto-ack, labels, assignment, Lola paged + reassigned + note,
        # then Jonathan paged
        await eventually(
            lambda: handle.query(TicketWorkflow.status),
            lambda st: sum(1 for e in st.ladder if e.action == "pagerduty.trigger") == 2,
            timeout=120,
        )

        # The faults last until both pages have reached PagerDuty (answered or failed), so
        # every action the ticket decides makes its first attempts against them. Kept on to
        # the end, a batch failing one attempt in two retried for a minute at the backoff cap.
        async def pages_tried() -> set[str]:
            return {
                c["body"]["dedup_key"]
                for c in s.pd.state.recorder.calls
                if isinstance(c["body"], dict) and c["body"].get("event_action") == "trigger"
            }

        await eventually(pages_tried, lambda keys: len(keys) >= 2, timeout=120)
        async with httpx.AsyncClient() as c:
            await c.post(s.cw_url + "/_sandbox/faults", json={"rate": 0.0})
            await c.post(s.pd_url + "/_sandbox/faults", json={"rate": 0.0})
        # Every action the ticket decided has completed, retries included (the breach note
        # runs beside the pages and may still be retrying), and every call the stand-ins
        # took has landed, the ones whose client gave up included: the counts are final.
        status = await s.quiet(conv, timeout=120)
        public, notes = outgoing(s, conv, private=False), outgoing(s, conv, private=True)
        # no duplicate message despite failures and timeouts
        assert len(public) == 1 and len(notes) == 1, (public, notes)
        assert sorted(a["routing_key_suffix"] for a in s.pd.state.alerts.values()) == sorted(
            [KEYS["lola"][-4:], KEYS["jonathan"][-4:]]
        )
        assert s.cw.state.chatwoot.conversations[(1, conv)]["labels"] == ["vip"]
        assert s.cw.state.chatwoot.conversations[(1, conv)]["meta"]["assignee"]["id"] == 2  # Lola
        failed = [
            c for c in s.cw.state.recorder.calls + s.pd.state.recorder.calls if c["status"] >= 429
        ]
        assert failed, "the fault injection really failed some calls"
        assert not [e for e in status.ladder if e.action.endswith(".failed")]


async def test_reconcile_schedule_is_created_idempotently(dev_env, task_queue):
    from infra.schedules import ensure_reconcile_schedule, schedule_id

    settings = load_settings(
        _env_file=None,
        chatwoot_account_id=4,
        temporal_task_queue=task_queue,
        reconcile_every_seconds=120,
    )
    try:
        assert await ensure_reconcile_schedule(dev_env.client, settings) == schedule_id(4)
        assert await ensure_reconcile_schedule(dev_env.client, settings) == schedule_id(4)
        desc = await dev_env.client.get_schedule_handle(schedule_id(4)).describe()
        assert desc.schedule.spec.intervals[0].every.total_seconds() == 120
    finally:
        await dev_env.client.get_schedule_handle(schedule_id(4)).delete()
