"""The `local-lanes` patch (issue 9): PagerDuty, audit and policy calls run
as local activities inside the deciding workflow task; Chatwoot stays a
regular activity.

What must hold: a breach's page leaves in the decision itself; Chatwoot
calls keep their attempts and heartbeats (a message retry looks for its
earlier copy); a PagerDuty that hangs holds neither the decision's Chatwoot
note nor, with many tickets paging, the worker's workflow-task slots (a
local activity keeps its slot while it runs): the local attempt gives up
after `LOCAL_ATTEMPT` and the call goes on as a regular activity.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from temporalio import activity
from temporalio.worker import Worker

from activities.policy import policy_activities
from infra.history import activity_calls
from models.pagerduty import PagerDutyEventInput, PagerDutyEventResult
from sandbox.recording import Recorder, recording_activities
from tests.conftest import POLICIES_DIR
from tests.helpers import eventually
from tests.test_ticket_workflow import start
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

HANG_S = 25.0  # a PagerDuty call that hangs this long (real seconds), then answers
STALL_HANG_S = 20.0  # the same, with several tickets paging at once


def _types(calls, local: bool) -> set[str]:
    return {c.activity_type for c in calls if c.local is local}


async def test_page_audit_and_policy_run_local_chatwoot_stays_regular(
    ts_env, ticket_worker, cleanup, task_queue
):
    h = await start(ts_env, task_queue, cleanup)
    await ts_env.sleep(
        timedelta(minutes=31)
    )  # past the VIP first-reply clock (30 min, business hours)
    await eventually(lambda: h.query(TicketWorkflow.status), lambda s: s.pages)
    calls = activity_calls((await h.fetch_history()).events)
    local, regular = _types(calls, True), _types(calls, False)
    assert {"policy.load_packed", "pagerduty.send_event"} <= local, calls
    assert any(t.startswith("audit.") for t in local), calls
    assert not any(t.startswith("audit.") or t.startswith("pagerduty.") for t in regular), calls
    assert regular and all(t.startswith("chatwoot.") for t in regular), calls
    assert not any(t.startswith("chatwoot.") for t in local), calls


async def test_a_hanging_pagerduty_does_not_hold_the_decisions_chatwoot_note(
    ts_env, cleanup, pg_pool, task_queue
):
    rec = Recorder()
    page_started: list[float] = []
    page_keys: list[str] = []

    @activity.defn(name="pagerduty.send_event")
    async def hanging_send_event(inp: PagerDutyEventInput) -> PagerDutyEventResult:
        page_started.append(time.monotonic())
        page_keys.append(inp.dedup_key)
        await asyncio.sleep(HANG_S)
        rec.add(
            inp.at,
            f"pagerduty.{inp.event_action}",
            inp.target,
            f"{inp.dedup_key}:{inp.event_action}",
        )
        return PagerDutyEventResult(status="success", dedup_key=inp.dedup_key)

    stand_ins = [
        a
        for a in recording_activities(rec, pg_pool)
        if activity._Definition.from_callable(a).name != "pagerduty.send_event"
    ]
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[*policy_activities(POLICIES_DIR), hanging_send_event, *stand_ins],
    ):
        h = await start(ts_env, task_queue, cleanup)
        notes_before = len(rec.of("chatwoot.note"))
        # not awaited: the test server does not skip time while the deciding task is open
        skip = asyncio.create_task(ts_env.sleep(timedelta(minutes=31)))
        await eventually(lambda: asyncio.sleep(0, result=page_started), bool, timeout=60)
        await eventually(
            lambda: asyncio.sleep(0, result=rec.of("chatwoot.note")),
            lambda notes: len(notes) > notes_before,
            timeout=60,
        )
        waited = time.monotonic() - page_started[0]
        assert not rec.of("pagerduty.trigger"), "the note should not have waited for the page"
        assert waited < HANG_S - 5, waited
        await eventually(
            lambda: asyncio.sleep(0, result=rec.of("pagerduty.trigger")), bool, timeout=60
        )
        await skip
        pages = [
            c
            for c in activity_calls((await h.fetch_history()).events)
            if c.activity_type == "pagerduty.send_event"
        ]
        # the local attempt gave up after LOCAL_ATTEMPT; the regular activity then waited PagerDuty out
        assert [(c.local, c.failed) for c in pages] == [(True, True), (False, False)], pages
        assert (
            len(set(page_keys)) == 1 and len(page_keys) == 2
        )  # the same dedup key both times: one incident


async def test_pages_hanging_in_every_task_slot_do_not_stall_other_tickets(
    ts_env, cleanup, pg_pool, task_queue
):
    """More tickets paging into a hung PagerDuty than the worker has
    workflow-task slots: a local activity must not keep its slot, or the
    worker stops deciding anything until PagerDuty answers."""
    rec = Recorder()
    hung: list[str] = []
    answered: list[str] = []

    @activity.defn(name="pagerduty.send_event")
    async def hanging_send_event(inp: PagerDutyEventInput) -> PagerDutyEventResult:
        hung.append(inp.dedup_key)
        await asyncio.sleep(STALL_HANG_S)
        answered.append(inp.dedup_key)
        return PagerDutyEventResult(status="success", dedup_key=inp.dedup_key)

    stand_ins = [
        a
        for a in recording_activities(rec, pg_pool)
        if activity._Definition.from_callable(a).name != "pagerduty.send_event"
    ]
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[*policy_activities(POLICIES_DIR), hanging_send_event, *stand_ins],
        max_concurrent_workflow_tasks=2,
        max_cached_workflows=10,
    ):
        paging = [await start(ts_env, task_queue, cleanup) for _ in range(3)]
        skip = asyncio.create_task(ts_env.sleep(timedelta(minutes=31)))
        # all three paged into the hang (a ticket's fallback call can hang too: count tickets, not calls)
        await eventually(
            lambda: asyncio.sleep(0, result=hung),
            lambda h: {k.split(":")[0] for k in h} == {p.id for p in paging},
            timeout=60,
        )
        assert not answered
        t0 = time.monotonic()
        await start(ts_env, task_queue, cleanup)  # its opening needs a workflow-task slot now
        print(f"opened in {time.monotonic() - t0:.1f}s while PagerDuty hangs")
        # a local call that kept its slot would free it only when PagerDuty answers
        assert not answered, "the new ticket waited for PagerDuty to answer"
        skip.cancel()
        # PagerDuty answers in the end; leave the tickets quiet for the cleanup
        await eventually(
            lambda: asyncio.sleep(0, result=answered),
            lambda a: len(a) >= 3,
            timeout=STALL_HANG_S + 30,
        )
