"""Deadlines keep time whatever Chatwoot does (the `background-lanes` loop).

A decision's side effects run in one ordered lane per system beside the
ticket's loop (workflows/lanes.py), and the loop applies deadlines and events
in the order they happened. On the time-skipping server, with a VIP pack
whose first-acknowledgment clock is 10 minutes (shorter than Chatwoot's
15-minute retry budget, so a loop that waited for Chatwoot would page late):

- Chatwoot fails from the opening on: the unanswered ticket is paged at its
  deadline, the ticket an agent answered during the outage is not paged, an
  operator's acknowledge is answered while Chatwoot still fails, and once
  Chatwoot is back each held call lands exactly once;
- a reply that happened before the deadline, seen in the same wake as the
  deadline, stops the clock; one at the deadline too; one after it does not.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.policy import policy_activities
from models import search_attributes as sa
from models.batch import BatchResult, ChatwootBatchInput
from models.chatwoot import (
    PostMessageInput,
    PostMessageResult,
    ReplyCheckInput,
    ReplyCheckResult,
)
from models.pagerduty import PagerDutyEventInput, PagerDutyEventResult
from models.signals import Acknowledged, AgentReplied
from models.ticket import Contact
from models.ticket_input import TicketInput
from sandbox.recording import Recorder, recording_activities
from tests.helpers import POLICIES_DIR, TUESDAY_10, activity_name, eventually, settled, start
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

POLICY = "vip-ack-10m"
ACK = timedelta(minutes=10)


def ack_10m_pack(directory: Path) -> None:
    """vip-concierge with its first-acknowledgment clock at 10 minutes."""
    text = (POLICIES_DIR / "vip-concierge.yaml").read_text()
    text = text.replace("name: vip-concierge", f"name: {POLICY}", 1)
    assert "    duration: 30m\n" in text
    (directory / f"{POLICY}.yaml").write_text(
        text.replace("    duration: 30m\n", "    duration: 10m\n", 1)
    )


class Chatwoot:
    """Chatwoot stand-ins that answer 503 while `down`, and otherwise record;
    `landed` counts the calls that went through, by idempotency key and kind."""

    def __init__(self, stand_ins: dict[str, Any]) -> None:
        self.down = False
        self.refused = 0
        self.landed: Counter[tuple[str, str]] = Counter()
        self.replies: dict[int, ReplyCheckResult] = {}  # what check_reply finds, by conversation
        self.checks = 0
        self._stand_ins = stand_ins

    def of(self, handle: WorkflowHandle[Any, Any], kind: str) -> dict[str, int]:
        return {
            key: n
            for (key, k), n in self.landed.items()
            if k == kind and key.startswith(f"{handle.id}:")
        }

    def _check(self) -> None:
        if self.down:
            self.refused += 1
            raise ApplicationError("Chatwoot answered 503", type="ChatwootUnavailable")

    def activities(self) -> list[Any]:
        @activity.defn(name="chatwoot.send_message")
        async def send_message(inp: PostMessageInput) -> PostMessageResult:
            self._check()
            result: PostMessageResult = await self._stand_ins["chatwoot.send_message"](inp)
            self.landed[(inp.idempotency_key, "note" if inp.private else "message")] += 1
            return result

        @activity.defn(name="chatwoot.apply_batch")
        async def apply_batch(inp: ChatwootBatchInput) -> BatchResult:
            self._check()
            result: BatchResult = await self._stand_ins["chatwoot.apply_batch"](inp)
            for op in inp.ops:
                call = getattr(op, op.kind)
                kind = "note" if op.kind == "message" and call.private else op.kind
                self.landed[(call.idempotency_key, kind)] += 1
            return result

        @activity.defn(name="chatwoot.check_reply")
        async def check_reply(inp: ReplyCheckInput) -> ReplyCheckResult:
            self.checks += 1
            self._check()
            return self.replies.get(inp.conversation_id, ReplyCheckResult())

        return [send_message, apply_batch, check_reply]


class Paged(list[tuple[str, datetime]]):
    """(dedup key, the server's time) of each page sent; `details` by dedup key."""

    def __init__(self) -> None:
        super().__init__()
        self.details: dict[str, dict[str, Any]] = {}


@pytest.fixture
async def outage(
    ts_env: WorkflowEnvironment, pg_pool: Any, task_queue: str, tmp_path: Path
) -> AsyncIterator[tuple[Recorder, Chatwoot, Paged]]:
    """A worker whose Chatwoot can be taken down; PagerDuty calls are noted
    with the server's time at the call (when the page really left)."""
    ack_10m_pack(tmp_path)
    rec = Recorder()
    stand_ins = {activity_name(a): a for a in recording_activities(rec, pg_pool)}
    chatwoot = Chatwoot(stand_ins)
    paged = Paged()

    @activity.defn(name="pagerduty.send_event")
    async def send_event(inp: PagerDutyEventInput) -> PagerDutyEventResult:
        paged.append((inp.dedup_key, await ts_env.get_current_time()))
        paged.details[inp.dedup_key] = inp.custom_details
        result: PagerDutyEventResult = await stand_ins["pagerduty.send_event"](inp)
        return result

    replaced = {
        "chatwoot.send_message",
        "chatwoot.apply_batch",
        "chatwoot.check_reply",
        "pagerduty.send_event",
    }
    others = [a for name, a in stand_ins.items() if name not in replaced]
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[*policy_activities(tmp_path), *chatwoot.activities(), send_event, *others],
    ):
        yield rec, chatwoot, paged


def pages_of(paged: list[tuple[str, datetime]], handle: WorkflowHandle[Any, Any]) -> list[datetime]:
    return [at for key, at in paged if key.startswith(f"{handle.id}:")]


async def test_pages_at_the_deadline_and_spares_answered_tickets_while_chatwoot_fails(
    ts_env: WorkflowEnvironment,
    outage: tuple[Recorder, Chatwoot, Paged],
    cleanup: list[str],
    task_queue: str,
) -> None:
    rec, chatwoot, paged = outage
    chatwoot.down = True
    opened = await ts_env.get_current_time()
    unanswered = await start(ts_env, task_queue, cleanup, policy=POLICY)
    answered = await start(ts_env, task_queue, cleanup, policy=POLICY)
    acked = await start(ts_env, task_queue, cleanup, policy=POLICY)
    await eventually(lambda: asyncio.sleep(0, result=chatwoot.refused), lambda n: n >= 3)

    # An operator acknowledges while every Chatwoot call is refused: answered at once.
    status = await asyncio.wait_for(
        acked.execute_update(TicketWorkflow.acknowledge, Acknowledged(by="alicia", source="cli")),
        timeout=30,
    )
    assert status.stage == "acknowledged" and chatwoot.down
    # An agent's reply (its webhook) during the outage, 4 minutes in.
    await ts_env.sleep(timedelta(minutes=4))
    await answered.signal(
        TicketWorkflow.agent_replied,
        AgentReplied(by="alicia", event_id="reply-1", source="webhook"),
    )
    await eventually(
        lambda: answered.query(TicketWorkflow.status), lambda s: s.stage == "acknowledged"
    )

    await ts_env.sleep(timedelta(minutes=7))  # past the 10-minute deadline; Chatwoot still down
    assert chatwoot.down and chatwoot.refused > 3
    [page_at] = await eventually(lambda: asyncio.sleep(0, result=pages_of(paged, unanswered)), bool)
    # On time: the page left when the deadline passed (the server's clock skips to it), not
    # when Chatwoot's retries gave up 15 minutes after the opening.
    assert opened + ACK <= page_at < opened + ACK + timedelta(seconds=5), (page_at, opened)

    chatwoot.down = False
    for handle in (unanswered, answered, acked):
        await settled(handle)
    assert not pages_of(paged, answered) and not pages_of(paged, acked)
    # Every call Chatwoot refused landed once it came back, exactly once: one
    # auto-acknowledgment each, labels and assignment, one breach note for the unanswered.
    for handle in (unanswered, answered, acked):
        assert list(chatwoot.of(handle, "message").values()) == [1], chatwoot.landed
        assert set(chatwoot.of(handle, "labels").values()) == {1}, chatwoot.landed
    assert list(chatwoot.of(unanswered, "note").values()) == [1], chatwoot.landed
    assert not chatwoot.of(answered, "note") and not chatwoot.of(acked, "note")
    assert rec.of("chatwoot.message")


async def start_late_with_reply(
    env: WorkflowEnvironment, task_queue: str, cleanup: list[str], replied_after: timedelta
) -> WorkflowHandle[Any, Any]:
    """A VIP ticket whose webhook reaches ticketflow 11 minutes after the
    conversation was created, together with an agent's reply that happened
    `replied_after` the creation: the ticket sees the deadline and the reply
    in its first wake."""
    created = TUESDAY_10 - timedelta(minutes=11)
    ticket = TicketInput(
        account_id=1,
        conversation_id=int(uuid.uuid4().int % 10**6) + 1,
        policy=POLICY,
        contact=Contact(name="Dana Whitfield", vip=True),
        clock_offset_seconds=(TUESDAY_10 - await env.get_current_time()).total_seconds(),
        created_at=created,
    )
    wid = f"t-{uuid.uuid4().hex[:10]}"
    handle = await env.client.start_workflow(
        TicketWorkflow.run,
        ticket,
        id=wid,
        task_queue=task_queue,
        search_attributes=sa.initial_search_attributes(wid, ticket),
        start_signal="agent_replied",
        start_signal_args=[
            AgentReplied(
                by="alicia", event_id="r1", source="webhook", occurred_at=created + replied_after
            )
        ],
    )
    cleanup.append(handle.id)
    return handle


@pytest.mark.parametrize(
    ("replied_after", "paged"),
    [(timedelta(minutes=4), False), (ACK, False), (ACK + timedelta(seconds=1), True)],
    ids=["before-the-deadline", "at-the-deadline", "after-the-deadline"],
)
async def test_a_reply_and_a_deadline_seen_in_one_wake_apply_in_the_order_they_happened(
    ts_env: WorkflowEnvironment,
    outage: tuple[Recorder, Chatwoot, Paged],
    cleanup: list[str],
    task_queue: str,
    replied_after: timedelta,
    paged: bool,
) -> None:
    _rec, _chatwoot, calls = outage
    handle = await start_late_with_reply(ts_env, task_queue, cleanup, replied_after)
    status = await settled(handle)
    [clock] = [c for c in status.clocks if c.name == "first_ack"]
    if paged:
        assert clock.breached_at is not None and pages_of(calls, handle), status.ladder
    else:
        assert clock.status == "stopped" and clock.breached_at is None, clock
        assert not pages_of(calls, handle) and not status.pages
        assert status.stage == "acknowledged"


async def test_a_reply_whose_webhook_was_lost_is_found_before_anyone_is_paged(
    ts_env: WorkflowEnvironment,
    outage: tuple[Recorder, Chatwoot, Paged],
    cleanup: list[str],
    task_queue: str,
) -> None:
    """The agent answered 4 minutes in, but the bridge never got the webhook
    (it answered 503 while Temporal was down; Chatwoot does not resend)."""
    _rec, chatwoot, paged = outage
    conv = int(uuid.uuid4().int % 10**6) + 1
    lost = await start(ts_env, task_queue, cleanup, policy=POLICY, conversation_id=conv)
    silent = await start(ts_env, task_queue, cleanup, policy=POLICY)
    replied_at = TUESDAY_10 + timedelta(minutes=4)
    chatwoot.replies[conv] = ReplyCheckResult(message_id=77, by="alicia", at=replied_at)
    await ts_env.sleep(ACK + timedelta(minutes=1))
    status = await settled(lost)
    [clock] = [c for c in status.clocks if c.name == "first_ack"]
    assert clock.status == "stopped" and clock.breached_at is None, clock
    assert status.acknowledged_at == replied_at and not pages_of(paged, lost)
    # The ticket without a reply is paged, after the same check found nothing.
    assert pages_of(paged, silent) and chatwoot.checks >= 2
    # The webhook, should it come after all, is the same event: applied once.
    await lost.signal(
        TicketWorkflow.agent_replied, AgentReplied(by="alicia", event_id="message:77")
    )
    assert (await settled(lost)).acknowledged_at == replied_at


async def test_a_chatwoot_that_cannot_be_asked_does_not_hold_the_page(
    ts_env: WorkflowEnvironment,
    outage: tuple[Recorder, Chatwoot, Paged],
    cleanup: list[str],
    task_queue: str,
) -> None:
    _rec, chatwoot, paged = outage
    opened = await ts_env.get_current_time()
    handle = await start(ts_env, task_queue, cleanup, policy=POLICY)
    await settled(handle)  # its opening's Chatwoot calls went through
    chatwoot.down = True
    await ts_env.sleep(ACK + timedelta(minutes=1))
    [page_at] = await eventually(lambda: asyncio.sleep(0, result=pages_of(paged, handle)), bool)
    assert page_at < opened + ACK + timedelta(seconds=5), (page_at, opened)
    # The page says the check could not be made: the on-call person looks first.
    [(key, _)] = [(k, at) for k, at in paged if k.startswith(f"{handle.id}:")]
    assert "Chatwoot did not answer" in paged.details[key]["reply_check"], paged.details[key]
    chatwoot.down = False
