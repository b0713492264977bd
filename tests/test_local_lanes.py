"""The `local-lanes` patch: PagerDuty, audit and policy calls run
as local activities inside the deciding workflow task; Chatwoot stays a
regular activity.

What must hold: a breach's page leaves in the decision itself; Chatwoot
calls keep their attempts and heartbeats (a message retry looks for its
earlier copy); a PagerDuty that hangs holds neither the decision's Chatwoot
note nor, with many tickets paging, the worker's workflow-task slots (a
local activity keeps its slot while it runs): the local attempt gives up
after `LOCAL_ATTEMPT` and the call goes on as a regular activity.

A hanging PagerDuty is a stand-in held on an event, not for a number of
seconds: it answers when the test, having seen what it needs, releases it
(always, in a `finally`). Only `LOCAL_ATTEMPT`, the local attempt's real
timeout, is waited out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta

import asyncpg
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.policy import policy_activities
from infra.history import ActivityCall, activity_calls
from models.pagerduty import PagerDutyEventInput, PagerDutyEventResult
from sandbox.recording import Recorder, recording_activities
from tests.helpers import POLICIES_DIR, activity_name, eventually, now_value, start
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow


def _types(calls: Iterable[ActivityCall], local: bool) -> set[str]:
    return {c.activity_type for c in calls if c.local is local}


async def test_page_audit_and_policy_run_local_chatwoot_stays_regular(
    ts_env, ticket_worker, cleanup, task_queue
):
    h = await start(ts_env, task_queue, cleanup)
    # past the VIP first-reply clock (30 min, business hours)
    await ts_env.sleep(timedelta(minutes=31))
    await eventually(lambda: h.query(TicketWorkflow.status), lambda s: s.pages)
    calls = activity_calls((await h.fetch_history()).events)
    local, regular = _types(calls, True), _types(calls, False)
    assert {"policy.load_packed", "pagerduty.send_event"} <= local, calls
    assert any(t.startswith("audit.") for t in local), calls
    assert not any(t.startswith("audit.") or t.startswith("pagerduty.") for t in regular), calls
    assert regular and all(t.startswith("chatwoot.") for t in regular), calls
    # Chatwoot's calls stay regular, but for the bounded reply check before a page.
    assert {t for t in local if t.startswith("chatwoot.")} <= {"chatwoot.check_reply"}, calls


async def test_a_hanging_pagerduty_does_not_hold_the_decisions_chatwoot_note(
    ts_env: WorkflowEnvironment, cleanup: list[str], pg_pool: asyncpg.Pool, task_queue: str
) -> None:
    rec = Recorder()
    release = asyncio.Event()  # PagerDuty hangs until the test sets it
    page_keys: list[str] = []  # the dedup key of each call to PagerDuty, in order

    @activity.defn(name="pagerduty.send_event")
    async def hanging_send_event(inp: PagerDutyEventInput) -> PagerDutyEventResult:
        page_keys.append(inp.dedup_key)
        await release.wait()
        rec.add(
            inp.at,
            f"pagerduty.{inp.event_action}",
            inp.target,
            f"{inp.dedup_key}:{inp.event_action}",
        )
        return PagerDutyEventResult(status="success", dedup_key=inp.dedup_key)

    stand_ins = [
        a for a in recording_activities(rec, pg_pool) if activity_name(a) != "pagerduty.send_event"
    ]
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[*policy_activities(POLICIES_DIR), hanging_send_event, *stand_ins],
    ):
        try:
            h = await start(ts_env, task_queue, cleanup)
            notes_before = len(rec.of("chatwoot.note"))
            # not awaited: the test server does not skip time while the deciding task is open
            skip = asyncio.create_task(ts_env.sleep(timedelta(minutes=31)))
            await eventually(lambda: now_value(page_keys), bool)
            # The breach note lands while PagerDuty hangs (it cannot answer before the
            # release below): the note did not wait for the page.
            await eventually(
                lambda: now_value(rec.of("chatwoot.note")),
                lambda notes: len(notes) > notes_before,
            )
            assert not rec.of("pagerduty.trigger") and not release.is_set()
            # The local attempt gives up after LOCAL_ATTEMPT and the page goes on as a
            # regular activity, which calls PagerDuty again: let that one answer.
            await eventually(lambda: now_value(page_keys), lambda keys: len(keys) == 2)
            release.set()
            await eventually(lambda: now_value(rec.of("pagerduty.trigger")), bool)
            await skip
        finally:
            release.set()
        pages = [
            c
            for c in activity_calls(list((await h.fetch_history()).events))
            if c.activity_type == "pagerduty.send_event"
        ]
        # the local attempt gave up after LOCAL_ATTEMPT; the regular activity then waited
        # PagerDuty out
        assert [(c.local, c.failed) for c in pages] == [(True, True), (False, False)], pages
        # the same dedup key both times: one incident
        assert len(set(page_keys)) == 1 and len(page_keys) == 2, page_keys


async def test_pages_hanging_in_every_task_slot_do_not_stall_other_tickets(
    ts_env: WorkflowEnvironment, cleanup: list[str], pg_pool: asyncpg.Pool, task_queue: str
) -> None:
    """More tickets paging into a hung PagerDuty than the worker has
    workflow-task slots: a local activity must not keep its slot, or the
    worker stops deciding anything until PagerDuty answers."""
    rec = Recorder()
    release = asyncio.Event()  # PagerDuty hangs until the test sets it
    hung: list[str] = []
    answered: list[str] = []

    @activity.defn(name="pagerduty.send_event")
    async def hanging_send_event(inp: PagerDutyEventInput) -> PagerDutyEventResult:
        hung.append(inp.dedup_key)
        await release.wait()
        answered.append(inp.dedup_key)
        return PagerDutyEventResult(status="success", dedup_key=inp.dedup_key)

    stand_ins = [
        a for a in recording_activities(rec, pg_pool) if activity_name(a) != "pagerduty.send_event"
    ]
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[*policy_activities(POLICIES_DIR), hanging_send_event, *stand_ins],
        max_concurrent_workflow_tasks=2,
        max_cached_workflows=10,
    ):
        try:
            paging = [await start(ts_env, task_queue, cleanup) for _ in range(3)]
            skip = asyncio.create_task(ts_env.sleep(timedelta(minutes=31)))
            # all three paged into the hang (a ticket's fallback call can hang too: count
            # tickets, not calls)
            await eventually(
                lambda: now_value(hung),
                lambda h: {k.split(":")[0] for k in h} == {p.id for p in paging},
            )
            # Its opening needs a workflow-task slot now. A local call that kept its slot
            # would free it only when PagerDuty answers, which it cannot before the release
            # below: `start` would wait for the ticket's first state until it gave up.
            await start(ts_env, task_queue, cleanup)
            assert not answered and not release.is_set()
            skip.cancel()
            # PagerDuty answers in the end; leave the tickets quiet for the cleanup
            release.set()
            await eventually(lambda: now_value(answered), lambda a: len(a) >= 3)
        finally:
            release.set()
