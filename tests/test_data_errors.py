"""A row Postgres can never accept fails its activity at once (non-retryable),
lands in the ticket's ladder and audit trail, and the ticket goes on."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.audit import AuditActivities
from activities.errors import DATA_ERROR_TYPE
from activities.policy import policy_activities
from infra.history import activity_calls
from models.audit import AuditRowInput, TicketEventRow
from models.batch import BatchResult, ChatwootBatchInput, OpOutcome
from models.chatwoot import PostMessageInput, PostMessageResult
from sandbox.recording import Recorder, recording_activities
from tests.helpers import POLICIES_DIR, eventually, start, terminate_all
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

NOW = datetime(2026, 11, 17, 16, tzinfo=UTC)


async def test_out_of_range_id_is_a_final_error(pg_pool):
    row = TicketEventRow(
        idempotency_key=f"k-{uuid.uuid4().hex}",
        workflow_id="ticket-1-x",
        account_id=1,
        conversation_id=2**64,
        policy="vip-concierge",
        action="ticket.opened",
        at=NOW,
    )
    with pytest.raises(ApplicationError) as err:
        await AuditActivities(pg_pool).record_ticket_event(row)
    assert err.value.non_retryable and err.value.type == DATA_ERROR_TYPE
    assert "int32" in err.value.message


async def test_text_that_is_not_a_uuid_is_a_final_error(pg_pool):
    inp = AuditRowInput(
        table="vip_concierge_action",
        idempotency_key=f"k-{uuid.uuid4().hex}",
        workflow_id="w",
        account_id=1,
        conversation_id=5,
        policy="vip-concierge",
        customer_id="not-a-uuid",
        at=NOW,
    )
    with pytest.raises(ApplicationError) as err:
        await AuditActivities(pg_pool).record_vip_concierge_action(inp)
    assert err.value.non_retryable and err.value.type == DATA_ERROR_TYPE


async def test_connection_trouble_stays_retryable(pg_pool):
    class _Down:
        async def execute(self, *a):
            raise ConnectionResetError("server closed the connection")

    row = TicketEventRow(
        idempotency_key="k",
        workflow_id="w",
        account_id=1,
        conversation_id=1,
        policy="p",
        action="a",
        at=NOW,
    )
    with pytest.raises(ConnectionResetError):
        await AuditActivities(_Down()).record_ticket_event(row)


def _attempts(history, activity_type: str) -> list[int]:
    calls = [c for c in activity_calls(history.events) if c.activity_type == activity_type]
    assert calls, f"no {activity_type} call in the history"
    return [c.attempt for c in calls]


async def test_ticket_with_an_out_of_range_id_fails_the_row_once_and_goes_on(
    ts_env, ticket_worker, cleanup, task_queue
):
    """Conversation id 2^40 (started directly, as before the
    bridge validated ids). Its audit rows cannot be written; each fails once,
    the ladder says so, and the opening actions after it still run."""
    h = await start(ts_env, task_queue, cleanup, conversation_id=2**40)
    status = await eventually(
        lambda: h.query(TicketWorkflow.status),
        lambda s: any(x.action == "ticket.opened.failed" for x in s.ladder),
    )
    failed = next(x for x in status.ladder if x.action == "ticket.opened.failed")
    assert "int32" in failed.summary
    await eventually(
        lambda: _fetch(ticket_worker),
        lambda msgs: any("auto_ack" in m or "thanks for reaching out" in m for m in msgs),
    )
    assert set(_attempts(await h.fetch_history(), "audit.record_ticket_event")) == {1}
    assert (await h.describe()).status == WorkflowExecutionStatus.RUNNING


async def _fetch(rec) -> list[str]:
    return [e.details.get("content", "") for e in rec.of("chatwoot.message")]


async def test_a_failed_action_lands_in_the_ladder_and_the_audit(
    ts_env, cleanup, task_queue, pg_pool
):
    rec = Recorder()

    @activity.defn(name="chatwoot.send_message")
    async def refuse(inp: PostMessageInput) -> PostMessageResult:
        raise ApplicationError(
            "Chatwoot answered 401", type="ChatwootUnauthorized", non_retryable=True
        )

    @activity.defn(
        name="chatwoot.apply_batch"
    )  # the same refusal inside a decision's Chatwoot batch
    async def refuse_in_batch(inp: ChatwootBatchInput) -> BatchResult:
        return BatchResult(
            outcomes=[
                OpOutcome(ok=False, error="ChatwootUnauthorized: Chatwoot answered 401")
                if op.kind == "message"
                else OpOutcome()
                for op in inp.ops
            ]
        )

    acts = [
        a
        for a in recording_activities(rec, pg_pool)
        if a.__temporal_activity_definition.name
        not in ("chatwoot.send_message", "chatwoot.apply_batch")
    ]
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[*policy_activities(POLICIES_DIR), refuse, refuse_in_batch, *acts],
    ):
        h = await start(ts_env, task_queue, cleanup)
        status = await eventually(
            lambda: h.query(TicketWorkflow.status),
            lambda s: any(x.action == "chatwoot.message.failed" for x in s.ladder),
        )
        rows = await eventually(
            lambda: pg_pool.fetch(
                "SELECT details FROM ticket_events WHERE workflow_id = $1 "
                "AND action = 'action.failed'",
                h.id,
            ),
            lambda rs: len(rs) >= 1,
        )
        assert "401" in json.loads(rows[0]["details"])["error"]
        assert json.loads(rows[0]["details"])["action"] == "chatwoot.message"
        assert any(
            x.action == "assign" for x in status.ladder
        )  # the rest of the opening ladder ran
        assert (await h.describe()).status == WorkflowExecutionStatus.RUNNING
        # End it while this worker still runs its in-flight tasks: a task left
        # behind would keep the shared time-skipping server's clock locked.
        await terminate_all(ts_env.client, [h.id])
