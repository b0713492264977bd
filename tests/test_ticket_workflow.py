"""TicketWorkflow behaviour on the time-skipping server: operator updates and
their validators, signals it cannot accept, an unknown policy, policy
pinning, continue-as-new, search attributes and Web UI summaries."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.worker import Worker

from activities.policy import policy_activities
from models import search_attributes as sa
from models.handoff import HandoffResponse
from models.signals import Acknowledged, CustomerReplied, Escalate, Reassign, Reopened, Resolved
from sandbox.recording import Recorder, recording_activities
from tests.helpers import POLICIES_DIR, eventually, start
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow


async def rejected(handle, update, arg) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(update, arg)
    return str(getattr(err.value.cause, "message", err.value.cause))


async def test_operator_updates_validate_and_answer_with_state(
    ts_env, ticket_worker, cleanup, task_queue
):
    h = await start(ts_env, task_queue, cleanup)
    assert "unknown escalation reason 'bored'" in await rejected(
        h, TicketWorkflow.request_escalation, Escalate(by="alicia", target="lola", reason="bored")
    )
    msg = await rejected(
        h,
        TicketWorkflow.request_escalation,
        Escalate(
            by="alicia",
            target="lola",
            reason="refund_over_200",
            payload={
                "issue_summary": "x",
                "alicia_already_tried": "y",
                "customer_emotional_state": "sad",
            },
        ),
    )
    assert "customer_emotional_state" in msg
    assert "unknown person or team 'bob'" in await rejected(
        h, TicketWorkflow.reassign_to, Reassign(to="bob")
    )
    assert "only a resolved ticket can be reopened" in await rejected(
        h, TicketWorkflow.reopen, Reopened(by="lola")
    )
    assert "no open handoff" in await rejected(
        h, TicketWorkflow.decide, HandoffResponse(by="jonathan", decision="engage")
    )
    status = await h.execute_update(TicketWorkflow.acknowledge, Acknowledged(by="alicia"))
    assert status.stage == "acknowledged" and status.owner == "alicia"
    status = await h.execute_update(TicketWorkflow.reassign_to, Reassign(to="lola", by="alicia"))
    assert status.owner == "lola"
    assert (
        await h.describe()
    ).status == WorkflowExecutionStatus.RUNNING  # refusals never fail the ticket
    status = await h.execute_update(TicketWorkflow.resolve, Resolved(by="lola", resolution="done"))
    assert status.stage == "closed"  # the VIP pack closes on resolve
    assert (await h.result()).stage == "closed"


async def test_signal_it_cannot_accept_is_recorded_not_fatal(
    ts_env, ticket_worker, cleanup, task_queue
):
    h = await start(ts_env, task_queue, cleanup)
    await h.signal(TicketWorkflow.escalate, Escalate(by="alicia", target="lola", reason="bored"))
    await h.signal(TicketWorkflow.reassign, Reassign(to="nobody"))
    status = await eventually(
        lambda: h.query(TicketWorkflow.status), lambda s: len(s.rejected_signals) == 2
    )
    assert [r.signal for r in status.rejected_signals] == ["escalate", "reassign"]
    assert "bored" in status.rejected_signals[0].reason
    assert (await h.describe()).status == WorkflowExecutionStatus.RUNNING


async def test_unknown_policy_parks_the_ticket_with_a_clear_error(
    ts_env, ticket_worker, cleanup, task_queue
):
    h = await start(ts_env, task_queue, cleanup, policy="no-such-pack")
    status = await h.query(TicketWorkflow.status)
    assert status.stage == "policy_error" and "unknown policy 'no-such-pack'" in status.error
    assert (await h.describe()).status == WorkflowExecutionStatus.RUNNING
    await h.signal(TicketWorkflow.resolved, Resolved(by="lola"))
    assert (await h.result()).stage == "policy_error"


async def test_editing_a_pack_never_changes_a_running_ticket(
    ts_env, cleanup, pg_pool, task_queue, tmp_path
):
    shutil.copy(POLICIES_DIR / "vip-concierge.yaml", tmp_path / "vip-concierge.yaml")
    rec = Recorder()
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[*policy_activities(tmp_path), *recording_activities(rec, pg_pool)],
    ):
        first = await start(ts_env, task_queue, cleanup)
        path = tmp_path / "vip-concierge.yaml"
        path.write_text(
            path.read_text()
            .replace("duration: 30m", "duration: 5m")
            .replace('version: "2026-11-22.1"', 'version: "edited"')
        )
        second = await start(ts_env, task_queue, cleanup)
        s1, s2 = await first.query(TicketWorkflow.status), await second.query(TicketWorkflow.status)
    ack1 = next(c for c in s1.clocks if c.name == "first_ack")
    ack2 = next(c for c in s2.clocks if c.name == "first_ack")
    assert (
        ack1.deadline - ack1.started_at == timedelta(minutes=30)
        and s1.policy_version == "2026-11-22.1"
    )
    assert ack2.deadline - ack2.started_at == timedelta(minutes=5) and s2.policy_version == "edited"


async def test_long_ticket_continues_as_new_carrying_its_state(
    ts_env, ticket_worker, cleanup, task_queue
):
    h = await start(ts_env, task_queue, cleanup, continue_as_new_after=100)
    before = await h.query(TicketWorkflow.status)
    for i in range(100):  # signal events alone pass 100, however many arrive in one workflow task
        await h.signal(TicketWorkflow.customer_replied, CustomerReplied(event_id=f"m{i}"))
    after = await eventually(lambda: h.query(TicketWorkflow.status), lambda s: s.run_count >= 2)
    assert after.owner == before.owner and after.policy_version == before.policy_version
    assert [c.deadline for c in after.clocks] == [c.deadline for c in before.clocks]  # no SLA drift
    await h.signal(
        TicketWorkflow.customer_replied, CustomerReplied(event_id="m5")
    )  # seen before the new run
    assert (await h.describe()).status == WorkflowExecutionStatus.RUNNING


async def test_search_attributes_and_human_summaries(ts_env, ticket_worker, cleanup, task_queue):
    h = await start(ts_env, task_queue, cleanup)
    # Known at start: in the start request itself, so the Web UI filters from the first second.
    attrs = (await h.describe()).typed_search_attributes
    assert attrs.get(sa.TICKET_ID) == h.id and attrs.get(sa.TICKET_POLICY) == "vip-concierge"
    assert attrs.get(sa.TICKET_VIP) is True
    # Decided by the ticket as it opens: wait for them rather than race the first workflow task.
    desc = await eventually(
        h.describe,
        lambda d: (
            d.typed_search_attributes.get(sa.TICKET_OWNER) == "alicia"
            and d.typed_search_attributes.get(sa.SLA_STATE) == "running"
        ),
    )
    assert desc.typed_search_attributes.get(sa.TICKET_VIP) is True

    async def summaries() -> list[str]:
        out = []
        for event in (await h.fetch_history()).events:
            if event.HasField("user_metadata") and event.user_metadata.HasField("summary"):
                out.append(json.loads(event.user_metadata.summary.data))
        return out

    found = await eventually(
        summaries,
        lambda ss: (
            any("VIP first acknowledgment 30m" in s for s in ss)
            and any("Public message: auto_ack" in s for s in ss)
        ),
    )
    assert found
