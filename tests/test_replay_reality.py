"""Replay equals reality: a recorded ticket replayed against the pack it ran decides,
action for action and instant for instant, what the live system did. Reality here is
the audit trail (`ticket_events`) and every call the workflows made to the Chatwoot
and PagerDuty stand-ins and to the audit activities. The same check runs over the
end-to-end suite's tickets (tests/test_e2e_integrations.py) and the fault suite's
(tests/faults/test_faults.py); a difference is a defect in the replay or the workflow."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.policy import policy_activities
from dryrun import inputs_store as store
from dryrun.reality import compare
from dryrun.replay import replay_recorded
from dryrun.replay_draft import replay_draft
from dryrun.whatif import pick_content, replay_vs_reality
from models.batch import BatchResult, ChatwootBatchInput, OpOutcome
from models.chatwoot import PostMessageInput, PostMessageResult
from sandbox.recording import Recorder, recording_activities
from tests.helpers import POLICIES_DIR, eventually, start, terminate_all
from tests.replay_check import replay_differences
from tests.whatif_scenario import Scenario
from workflows.handoff import HandoffWorkflow
from workflows.routes import BARRIERS
from workflows.ticket import TicketWorkflow


async def replays(pool, wids):
    async with pool.acquire() as conn:
        recs = await store.recorded_by_id(conn, wids)
        contents = await store.pack_contents(conn, "vip-concierge")
        events = await store.real_events(conn, wids)
    return [
        (rec, pick_content(contents, rec)[0].policy, events.get(rec.workflow_id, []))
        for rec in recs
    ]


async def test_every_call_the_workflows_made_is_what_the_replay_decides(
    scenario: Scenario, pg_pool: asyncpg.Pool
) -> None:
    wids = list(scenario.tickets.values())
    async with pg_pool.acquire() as conn:
        replayed, differences = await replay_vs_reality(conn, wids)
    assert replayed == 4 and differences == []
    decided: Counter = Counter()
    for rec, policy, _ in await replays(pg_pool, wids):
        current, _ = replay_recorded(policy, rec)
        for a in current.actions:
            if (
                a.kind not in BARRIERS
            ):  # no call of their own: the child workflow, the recorded answer
                decided[(a.kind, None if a.kind.startswith("audit.") else a.target, a.at)] += 1
    made = Counter((e.action, e.target, e.at) for e in scenario.recorder.entries)
    assert decided == made
    assert sum(n for (kind, _, _), n in made.items() if kind == "pagerduty.trigger") == 4


async def test_a_lost_input_or_a_changed_audit_row_is_a_difference(scenario, pg_pool):
    late, close_call = scenario.tickets["late"], scenario.tickets["close_call"]
    [(rec, policy, events)] = await replays(pg_pool, [close_call])
    assert compare(replay_recorded(policy, rec)[0], rec, events, set()) == []
    # Its 10:25 acknowledgment lost: a gap in the record, never replayed as if nothing
    # were missing...
    acked = next(r for r in rec.rows if r.kind == "acknowledged")
    lost = replace(rec, rows=[r for r in rec.rows if r is not acked])
    diffs = compare(replay_recorded(policy, lost)[0], lost, events, set())
    assert any(f"inputs {acked.seq} not recorded" in d.what for d in diffs)
    # ...and, numbered as if complete, a 10:30 breach and page the audit trail does not have.
    renumbered = replace(lost, rows=[replace(r, seq=i) for i, r in enumerate(lost.rows, 1)])
    diffs = compare(replay_recorded(policy, renumbered)[0], renumbered, events, set())
    assert any(
        d.what.startswith("replay decided sla.breached -> alicia at 2026-11-17T16:30:00")
        for d in diffs
    )
    # An audit row an instant off.
    [(rec, policy, events)] = await replays(pg_pool, [late])
    breach = next(e for e in events if e.action == "sla.breached")
    moved = [replace(e, at=e.at + timedelta(seconds=1)) if e is breach else e for e in events]
    [diff] = compare(replay_recorded(policy, rec)[0], rec, moved, set())
    assert diff.key == breach.key and "the audit trail has sla.breached" in diff.what


async def test_the_draft_driver_reproduces_the_pack_in_force(scenario, pg_pool):
    """Internal inputs regenerated (wakes, handoff results, forwarded responses) at
    reality's instants."""
    for rec, policy, _ in await replays(pg_pool, list(scenario.tickets.values())):
        current, oracle = replay_recorded(policy, rec)
        again = replay_draft(policy, rec, oracle, rec.last_at + timedelta(microseconds=1))
        assert sorted((a.key, a.kind, a.target, a.at) for a in again.actions) == sorted(
            (a.key, a.kind, a.target, a.at) for a in current.actions
        )
        assert (again.final_stage, again.final_owner) == (current.final_stage, current.final_owner)
    handoff = scenario.tickets["handoff"]
    [(rec, _, _)] = await replays(pg_pool, [handoff])
    assert rec.handoffs and all(len(rows) >= 3 for rows in rec.handoffs.values())


async def test_an_action_that_fails_for_good_replays_with_its_failure_row(
    ts_env, cleanup, task_queue, pg_pool, postgres_dsn
):
    """Chatwoot refusing every message: each failure is an input (`action_failed`) and an audit row
    (`action.failed`, keyed by the action), at the same instant; the replay decides both."""

    @activity.defn(name="chatwoot.send_message")
    async def unauthorized(inp: PostMessageInput) -> PostMessageResult:
        raise ApplicationError(
            "Chatwoot answered 401", type="ChatwootUnauthorized", non_retryable=True
        )

    @activity.defn(name="chatwoot.apply_batch")
    async def unauthorized_messages(inp: ChatwootBatchInput) -> BatchResult:
        return BatchResult(
            outcomes=[
                OpOutcome(ok=op.kind != "message", error="401" if op.kind == "message" else None)
                for op in inp.ops
            ]
        )

    kept = [
        a
        for a in recording_activities(Recorder(), pg_pool)
        if a.__temporal_activity_definition.name
        not in ("chatwoot.send_message", "chatwoot.apply_batch")
    ]
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[
            *policy_activities(POLICIES_DIR, pg_pool),
            unauthorized,
            unauthorized_messages,
            *kept,
        ],
    ):
        h = await start(ts_env, task_queue, cleanup)
        await ts_env.sleep(timedelta(minutes=65))  # the auto-ack, then both breach notes, fail
        await eventually(lambda: h.query(TicketWorkflow.status), lambda s: len(s.pages) >= 2)
        replayed, differences = await replay_differences(postgres_dsn, [h.id])
        failed = await pg_pool.fetchval(
            "SELECT count(*) FROM ticket_events WHERE workflow_id = $1 "
            "AND action = 'action.failed'",
            h.id,
        )
        await terminate_all(ts_env.client, [h.id])
    assert replayed == 1 and differences == [] and failed == 3
