"""Every input a ticket's engine consumes lands in `ticket_inputs` (workflows/inputs.py):
in order, with its sender, the `now` the engine got and the pack in force; append-only,
idempotent, without message bodies. Real Postgres, the time-skipping server."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.audit import AuditActivities
from activities.policy import policy_activities
from client.tickets import send_update
from console.actions import perform
from engine.policy_loader import load_policy
from infra.settings import Settings
from models.recorded_inputs import InputRow, RecordInputs, RecordInputsResult
from models.signals import Acknowledged, CustomerReplied, Escalate, Reassign
from sandbox.recording import Recorder, recording_activities
from starter import operator_cli
from starter.chatwoot_events import Route, route
from tests import payloads
from tests.helpers import POLICIES_DIR, TUESDAY_10, eventually, start, terminate_all
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

VIP = load_policy("vip-concierge", POLICIES_DIR)
BODY = "my card number is 4242 4242 4242 4242"


async def rows(pool, wid: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM ticket_inputs WHERE workflow_id = $1 ORDER BY life, seq", wid
    )


async def rows_until(pool, wid: str, check) -> list[asyncpg.Record]:
    """Rows are written beside the ticket's loop, a moment after the decision that consumed them."""
    return await eventually(lambda: rows(pool, wid), check)


def kinds(rs) -> list[str]:
    return [r["kind"] for r in rs]


def webhook(payload: dict):
    r = route(payload, account_id=1, policy_for_inbox=lambda _inbox: "vip-concierge")
    assert isinstance(r, Route) and getattr(r.arg, "source", None) == "webhook", r
    return r


async def clock(env, offset: float) -> datetime:
    """The ticket's clock now (the server's plus the ticket's offset)."""
    return await env.get_current_time() + timedelta(seconds=offset)


async def offset_of(handle) -> float:
    first = (await handle.fetch_history()).events[0].workflow_execution_started_event_attributes
    return json.loads(first.input.payloads[0].data)["clock_offset_seconds"]


async def wakes_after_first_timer(handle, offset: float) -> list[datetime]:
    """The ticket's `now` in each workflow task started after its first timer
    fired, up to the next timer: the one that applied the deadline is among
    them (a task that failed on a loaded server is started again)."""
    events = list((await handle.fetch_history()).events)
    fired = next(
        i for i, e in enumerate(events) if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED
    )
    tasks = []
    for e in events[fired + 1 :]:
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            break
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            tasks.append(e.event_time.ToDatetime(tzinfo=UTC) + timedelta(seconds=offset))
    return tasks


def within(at: datetime, start: datetime, seconds: float = 5.0) -> bool:
    return start - timedelta(milliseconds=1) <= at <= start + timedelta(seconds=seconds)


async def test_a_tickets_life_is_recorded_input_by_input(
    ts_env, ticket_worker, cleanup, task_queue, pg_pool
):
    """open → customer reply → timer breach → webhook classify → CLI acknowledge →
    console resolve."""
    h = await start(ts_env, task_queue, cleanup)
    offset = await offset_of(h)
    await ts_env.sleep(timedelta(minutes=5))
    replied_at = await clock(ts_env, offset)
    reply = webhook(payloads.message("incoming", msg_id=9001, content=BODY))
    await h.signal(reply.signal, reply.arg)
    await ts_env.sleep(timedelta(minutes=26))  # past the 30-minute acknowledgment deadline (10:30)
    await eventually(lambda: h.query(TicketWorkflow.status), lambda s: s.pages)
    classified_at = await clock(ts_env, offset)
    labels = webhook(
        payloads.conversation(
            "conversation_updated",
            labels=["vip", "billing"],
            timestamp=1763400600,
            changed_attributes=[
                {"label_list": {"previous_value": ["vip"], "current_value": ["vip", "billing"]}}
            ],
        )
    )
    await h.signal(labels.signal, labels.arg)
    await rows_until(pg_pool, h.id, lambda rs: "classify" in kinds(rs))
    acked_at = await clock(ts_env, offset)
    settings = Settings(temporal_address=ts_env.client.service_client.config.target_host)
    await asyncio.to_thread(
        operator_cli.update, settings, h.id, TicketWorkflow.acknowledge, Acknowledged(by="alicia")
    )
    resolved_at = await clock(ts_env, offset)
    outcome = await perform(
        ts_env.client, h.id, "resolve", "alicia", {"resolution": "refunded"}, None, None
    )
    assert outcome.error is None and outcome.status.stage == "closed"
    await h.result()

    rs = await rows_until(pg_pool, h.id, lambda rs: "resolved" in kinds(rs))
    assert kinds(rs) == [
        "open",
        "customer_replied",
        "advance",
        "classify",
        "acknowledged",
        "resolved",
    ]
    assert [r["seq"] for r in rs] == [1, 2, 3, 4, 5, 6]
    assert [r["source"] for r in rs] == [None, "webhook", "timer", "webhook", "cli", "console"]
    assert {(r["policy"], r["policy_version"]) for r in rs} == {(VIP.name, VIP.version)}
    assert all(r["life"] == "" and r["rejected"] is None for r in rs)
    opened, replied, woke, classified, acked, resolved = rs
    assert within(opened["at"], TUESDAY_10)
    assert within(replied["at"], replied_at) and within(classified["at"], classified_at)
    assert within(acked["at"], acked_at) and within(resolved["at"], resolved_at)
    # The breach row holds the instant the timer woke the ticket (a late wake replays
    # late), not the deadline.
    deadline = TUESDAY_10 + timedelta(minutes=30)
    assert within(woke["at"], deadline)
    # Noted at the instant the ticket woke, not at the deadline (the server's event times
    # and the workflow's clock differ by a few milliseconds on a loaded machine).
    wakes = await wakes_after_first_timer(h, offset)
    assert woke["at"] > deadline, woke
    assert any(abs(woke["at"] - t) < timedelta(milliseconds=50) for t in wakes), (woke, wakes)
    # Typed payloads, as the engine got them.
    ticket = json.loads(opened["payload"])
    assert (
        ticket["ticket"]["contact"]["name"] == "Dana Whitfield"
        and ticket["ticket"]["policy"] == VIP.name
    )
    assert ticket["life"] is None and ticket["sop_orders"] is True
    assert json.loads(replied["payload"]) == {"event_id": "message:9001"}
    assert json.loads(classified["payload"])["labels"] == ["vip", "billing"]
    assert json.loads(acked["payload"]) == {"event_id": None, "by": "alicia"}
    assert json.loads(resolved["payload"])["resolution"] == "refunded"
    assert json.loads(woke["payload"]) == {}


async def test_a_message_body_is_never_stored(ts_env, ticket_worker, cleanup, task_queue, pg_pool):
    """A customer message's webhook carries its text; the ticket's input does not (the
    engine never needs it), nor does a sender that adds it to the signal."""
    h = await start(ts_env, task_queue, cleanup)
    reply = webhook(payloads.message("incoming", msg_id=9002, content=BODY))
    await h.signal(reply.signal, reply.arg)
    await h.signal("customer_replied", {"event_id": "raw-1", "content": BODY, "source": "webhook"})
    rs = await rows_until(pg_pool, h.id, lambda rs: kinds(rs).count("customer_replied") == 2)
    assert [json.loads(r["payload"]) for r in rs[1:]] == [
        {"event_id": "message:9002"},
        {"event_id": "raw-1"},
    ]
    assert not [r for r in rs if "4242" in json.dumps(dict(r), default=str)]


async def test_a_ticket_started_again_records_its_life_apart(
    ts_env, ticket_worker, cleanup, task_queue, pg_pool
):
    """A conversation's ticket started again after it closed has a life of its own; its
    seq starts at 1."""
    h = await start(ts_env, task_queue, cleanup, life="status1763400600")
    rs = await rows_until(pg_pool, h.id, lambda rs: len(rs) >= 1)
    assert [(r["life"], r["seq"], r["kind"]) for r in rs] == [("status1763400600", 1, "open")]
    assert json.loads(rs[0]["payload"])["life"] == "status1763400600"


async def test_a_rejected_signal_is_recorded_with_its_reason(
    ts_env, ticket_worker, cleanup, task_queue, pg_pool
):
    h = await start(ts_env, task_queue, cleanup)
    await h.signal(TicketWorkflow.reassign, Reassign(to="nobody", by="alicia"))
    await h.signal(TicketWorkflow.customer_replied, CustomerReplied(event_id="after"))
    rs = await rows_until(pg_pool, h.id, lambda rs: "customer_replied" in kinds(rs))
    reassign = next(r for r in rs if r["kind"] == "reassign")
    status = await h.query(TicketWorkflow.status)
    assert reassign["rejected"] == status.rejected_signals[0].reason
    assert "unknown person or team 'nobody'" in reassign["rejected"]
    assert json.loads(reassign["payload"]) == {"event_id": None, "to": "nobody", "by": "alicia"}
    assert next(r for r in rs if r["kind"] == "customer_replied")["rejected"] is None


async def test_a_handoff_records_its_own_inputs_and_its_results_reach_the_ticket(
    ts_env, ticket_worker, cleanup, task_queue, pg_pool
):
    h = await start(ts_env, task_queue, cleanup)
    await send_update(
        ts_env.client, h.id, TicketWorkflow.acknowledge, Acknowledged(by="alicia"), source="cli"
    )
    status = await send_update(
        ts_env.client,
        h.id,
        TicketWorkflow.request_escalation,
        Escalate(
            by="alicia",
            reason="refund_over_200",
            target="alliyson",
            payload={
                "issue_summary": "Refund $340",
                "alicia_already_tried": "checked",
                "customer_emotional_state": "frustrated",
            },
        ),
        source="console",
    )
    [handoff] = status.handoffs
    await ts_env.sleep(
        timedelta(minutes=65)
    )  # past its 30-minute deadline and the next on-failure step
    ticket_rows = await rows_until(pg_pool, h.id, lambda rs: kinds(rs).count("handoff_result") == 2)
    hrows = await rows_until(pg_pool, handoff.id, lambda rs: "advance" in kinds(rs))
    assert kinds(ticket_rows)[:3] == ["open", "acknowledged", "escalate"]
    assert [r["source"] for r in ticket_rows if r["kind"] == "handoff_result"] == [
        "handoff",
        "handoff",
    ]
    assert [
        json.loads(r["payload"])["outcome"] for r in ticket_rows if r["kind"] == "handoff_result"
    ] == ["failed", "failed"]
    assert kinds(hrows) == ["open", "timeout", "advance"]
    assert [r["source"] for r in hrows] == ["system", "timer", "timer"]
    assert within(hrows[1]["at"], handoff.deadline)
    opened = json.loads(hrows[0]["payload"])
    assert opened["ticket_workflow_id"] == h.id and "policy" not in opened
    assert opened["payload"]["issue_summary"] == "Refund $340"


async def test_the_sequence_goes_on_across_continue_as_new(
    ts_env, ticket_worker, cleanup, task_queue, pg_pool
):
    h = await start(ts_env, task_queue, cleanup, continue_as_new_after=100)
    for i in range(100):
        await h.signal(TicketWorkflow.customer_replied, CustomerReplied(event_id=f"m{i}"))
    await eventually(lambda: h.query(TicketWorkflow.status), lambda s: s.run_count >= 2)
    await h.signal(TicketWorkflow.customer_replied, CustomerReplied(event_id="next run"))
    rs = await rows_until(pg_pool, h.id, lambda rs: len(rs) == 102)
    assert [r["seq"] for r in rs] == list(range(1, 103))
    assert json.loads(rs[-1]["payload"]) == {"event_id": "next run"}


async def test_a_ticket_whose_inputs_cannot_be_recorded_goes_on(
    ts_env, cleanup, task_queue, pg_pool
):
    """Recording never stops a ticket: the failed write is logged and audited as `action.failed`."""

    @activity.defn(name="audit.record_inputs")
    async def refuse(inp: RecordInputs) -> RecordInputsResult:
        raise ApplicationError(
            "Postgres rejected the row", type="AuditDataError", non_retryable=True
        )

    # The real ticket_events writer: the recording stand-in cannot take an
    # `action.failed` row's details.
    events = AuditActivities(pg_pool).record_ticket_event
    acts = [
        a
        for a in recording_activities(Recorder(), pg_pool)
        if a.__temporal_activity_definition.name
        not in ("audit.record_inputs", "audit.record_ticket_event")
    ]
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[*policy_activities(POLICIES_DIR), refuse, events, *acts],
    ):
        h = await start(ts_env, task_queue, cleanup)
        status = await h.execute_update(TicketWorkflow.acknowledge, Acknowledged(by="alicia"))
        assert status.stage == "acknowledged"
        failed = await eventually(
            lambda: pg_pool.fetch(
                "SELECT idempotency_key, details FROM ticket_events"
                " WHERE workflow_id = $1 AND action = 'action.failed' ORDER BY idempotency_key",
                h.id,
            ),
            lambda rs: len(rs) == 2,
        )
        assert [r["idempotency_key"] for r in failed] == [
            f"{h.id}:inputs:1:failed",
            f"{h.id}:inputs:2:failed",
        ]
        details = json.loads(failed[0]["details"])
        assert (
            details["action"] == "audit.record_inputs"
            and "Postgres rejected the row" in details["error"]
        )
        assert not await rows(pg_pool, h.id)
        await terminate_all(ts_env.client, [h.id])


def _row(seq: int, **kw) -> InputRow:
    return InputRow(
        **{
            "workflow_id": "t-inputs-retry",
            "seq": seq,
            "kind": "customer_replied",
            "payload": {"event_id": f"e{seq}"},
            "at": TUESDAY_10 + timedelta(seconds=seq),
            "source": "webhook",
            "policy": VIP.name,
            "policy_version": VIP.version,
            **kw,
        }
    )


async def test_an_activity_retry_writes_each_row_once(pg_pool):
    acts = AuditActivities(pg_pool)
    batch = RecordInputs(rows=[_row(1), _row(2, kind="advance", payload={}, source="timer")])
    assert (await acts.record_inputs(batch)).inserted == 2
    assert (await acts.record_inputs(batch)).inserted == 0  # the same call again: a retry
    again = RecordInputs(rows=[_row(2, kind="advance", payload={}, source="timer"), _row(3)])
    assert (await acts.record_inputs(again)).inserted == 1
    rs = await rows(pg_pool, "t-inputs-retry")
    assert [(r["seq"], r["kind"]) for r in rs] == [
        (1, "customer_replied"),
        (2, "advance"),
        (3, "customer_replied"),
    ]
    # A ticket started again after it closed numbers its own life from 1.
    assert (await acts.record_inputs(RecordInputs(rows=[_row(1, life="status1")]))).inserted == 1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ticket_inputs SET kind = 'resolved' WHERE workflow_id = 't-inputs-frozen'",
        "DELETE FROM ticket_inputs WHERE workflow_id = 't-inputs-frozen'",
        "TRUNCATE ticket_inputs",
    ],
)
async def test_recorded_inputs_cannot_be_changed_or_deleted(pg_pool, statement):
    await AuditActivities(pg_pool).record_inputs(
        RecordInputs(rows=[_row(1, workflow_id="t-inputs-frozen")])
    )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await pg_pool.execute(statement)
    assert len(await rows(pg_pool, "t-inputs-frozen")) == 1
