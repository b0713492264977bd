"""The batched activities: one Chatwoot activity and one audit
transaction for the actions of a decision, with the single activities'
guarantees (order, idempotency, a bad item loses nothing else)."""

from __future__ import annotations

import dataclasses
import uuid

from temporalio.exceptions import ApplicationError

from activities.audit_batch import AuditBatchActivities
from activities.chatwoot_batch import ChatwootBatchActivities
from models.audit import AuditRowInput, TicketEventRow
from models.batch import AuditBatchInput, AuditBatchItem, ChatwootBatchInput, ChatwootOp
from models.chatwoot import AssignInput, PostMessageInput, SetStatusInput, UpdateLabelsInput
from tests.helpers import AT, CONV, activity_env


def ops(key: str) -> ChatwootBatchInput:
    return ChatwootBatchInput(
        ops=[
            ChatwootOp(
                kind="assign", assign=AssignInput(**CONV, idempotency_key=f"{key}:a", agent_id=2)
            ),
            ChatwootOp(
                kind="labels",
                labels=UpdateLabelsInput(**CONV, idempotency_key=f"{key}:l", add=["vip_acked"]),
            ),
            ChatwootOp(
                kind="message",
                message=PostMessageInput(**CONV, idempotency_key=f"{key}:m", content="Hi Dana"),
            ),
            ChatwootOp(
                kind="status",
                status=SetStatusInput(**CONV, idempotency_key=f"{key}:s", status="resolved"),
            ),
        ]
    )


async def test_chatwoot_batch_applies_in_order_and_a_retry_posts_once(chatwoot):
    acts, app, _ = chatwoot
    batch = ChatwootBatchActivities(acts)
    result = await activity_env(1).run(batch.apply_batch, ops("t1"))
    assert [o.ok for o in result.outcomes] == [True] * 4
    conv = app.state.chatwoot.conversations[(1, 5)]
    assert conv["labels"] == ["vip", "vip_acked"] and conv["status"] == "resolved"
    paths = [
        c["path"].rsplit("/", 1)[-1] for c in app.state.recorder.calls if c["method"] == "POST"
    ]
    assert paths == [
        "assignments",
        "labels",
        "messages",
        "toggle_status",
    ]  # the status change stays last
    await activity_env(2).run(
        batch.apply_batch, ops("t1")
    )  # the first attempt landed but timed out
    assert len(conv["messages"]) == 1


async def test_chatwoot_batch_reports_a_refused_op_and_does_the_rest(chatwoot):
    acts, app, _ = chatwoot
    batch = ChatwootBatchActivities(acts)
    bad = ChatwootOp(
        kind="assign", assign=AssignInput(**CONV, idempotency_key="x")
    )  # neither agent nor team
    inp = ChatwootBatchInput(ops=[bad, *ops("t2").ops[1:3]])
    result = await activity_env().run(batch.apply_batch, inp)
    assert [o.ok for o in result.outcomes] == [False, True, True]
    assert "agent_id or team_id" in result.outcomes[0].error
    assert len(app.state.chatwoot.conversations[(1, 5)]["messages"]) == 1


async def test_chatwoot_batch_retries_as_a_whole_when_chatwoot_is_down(chatwoot):
    acts, _app, http = chatwoot
    await http.post("/_sandbox/faults", json={"rate": 1.0, "kinds": [503]})
    try:
        await activity_env().run(ChatwootBatchActivities(acts).apply_batch, ops("t3"))
    except ApplicationError as exc:
        assert not exc.non_retryable
    else:
        raise AssertionError("a 503 must fail the attempt (Temporal retries it)")


async def test_chatwoot_batch_retry_resumes_after_the_ops_done(chatwoot):
    acts, app, _ = chatwoot
    e = activity_env(2)
    e.info = dataclasses.replace(
        e.info, heartbeat_details=[[{"ok": True, "error": None}] * 2]
    )  # assign, labels done
    result = await e.run(ChatwootBatchActivities(acts).apply_batch, ops("t4"))
    assert [o.ok for o in result.outcomes] == [True] * 4
    posts = [
        c["path"].rsplit("/", 1)[-1] for c in app.state.recorder.calls if c["method"] == "POST"
    ]
    assert posts == ["messages", "toggle_status"]  # the first two ops were not repeated


def _event(wid: str, key: str, conv: int = 5) -> AuditBatchItem:
    return AuditBatchItem(
        event=TicketEventRow(
            idempotency_key=key,
            workflow_id=wid,
            account_id=1,
            conversation_id=conv,
            policy="vip-concierge",
            action="sla.breached",
            at=AT,
        )
    )


async def test_audit_batch_one_transaction_idempotent_and_a_bad_row_loses_nothing_else(pg_pool):
    wid = f"ticket-batch-{uuid.uuid4().hex[:8]}"
    row = AuditBatchItem(
        row=AuditRowInput(
            table="decision_log",
            idempotency_key=f"{wid}:d",
            workflow_id=wid,
            account_id=1,
            conversation_id=5,
            policy="ops-ladder",
            at=AT,
        )
    )
    bad = _event(wid, f"{wid}:bad", conv=2**40)  # out of int range for the column
    inp = AuditBatchInput(items=[_event(wid, f"{wid}:1"), bad, row, _event(wid, f"{wid}:2")])
    acts = AuditBatchActivities(pg_pool)
    result = await activity_env().run(acts.record_batch, inp)
    assert [o.ok for o in result.outcomes] == [True, False, True, True]
    assert "out of int32 range" in result.outcomes[1].error
    await activity_env(2).run(acts.record_batch, inp)  # a retry writes nothing twice
    assert (
        await pg_pool.fetchval("SELECT count(*) FROM ticket_events WHERE workflow_id = $1", wid)
        == 2
    )
    assert (
        await pg_pool.fetchval("SELECT count(*) FROM decision_log WHERE workflow_id = $1", wid) == 1
    )
