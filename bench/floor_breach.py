"""The burst baseline: the simplest correct program that does what a VIP
ticket's acknowledgment breach does, on the same stack.

One workflow per ticket sleeps to the deadline, asks Chatwoot whether an
agent answered meanwhile (a webhook the bridge never got must not page
anyone: `chatwoot.check_reply`, bounded to 2 s, as a ticket asks before an
acknowledgment breach pages), then does the breach's three external effects
at once, each a plain regular activity with retries: a PagerDuty trigger (to
the same stand-in, with the same conversation link), a private note in
Chatwoot, one `sla.breached` row in `ticket_events`. The
activities are ticketflow's own (the same HTTP client, the same idempotent
insert), so the only difference from a ticket is what ticketflow adds around
them: its engine, its pack, its ladder, its search attributes and board, its
inputs log, its local-first lanes. The bench runs a burst of these in the same
run as ticketflow's and reads the two side by side (bench/floor_burst.py).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TypedDict

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.audit import AuditActivities
    from activities.chatwoot import ChatwootActivities
    from activities.pagerduty import PagerDutyActivities
    from models import search_attributes as sa
    from models.audit import TicketEventRow
    from models.chatwoot import PostMessageInput, ReplyCheckInput
    from models.pagerduty import PagerDutyEventInput

BREACH_FLOOR_TASK_QUEUE = "bench-breach-floor"
WAITING = "floor-waiting"  # TicketStage once asleep: lets the bench count them before the deadline


class _ActivityOptions(TypedDict):
    start_to_close_timeout: timedelta
    retry_policy: RetryPolicy


_OPTS = _ActivityOptions(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
)


class BreachFloorInput(BaseModel):
    account_id: int
    conversation_id: int
    due: datetime


@workflow.defn
class BenchBreachFloor:
    @workflow.run
    async def run(self, inp: BreachFloorInput) -> None:
        workflow.upsert_search_attributes([sa.TICKET_STAGE.value_set(WAITING)])
        await workflow.sleep(max(timedelta(0), inp.due - workflow.now()))
        wid, now, c = workflow.info().workflow_id, workflow.now(), inp.conversation_id
        try:
            reply = await workflow.execute_activity_method(
                ChatwootActivities.check_reply,
                ReplyCheckInput(account_id=inp.account_id, conversation_id=c, since=inp.due),
                start_to_close_timeout=timedelta(seconds=2),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
            if reply.message_id is not None:
                return  # answered: nobody is paged
        except ActivityError:
            pass  # not checked: page anyway
        page = PagerDutyEventInput(
            event_action="trigger",
            dedup_key=f"{wid}:ack",
            summary="Ack SLA breached",
            workflow_id=wid,
            account_id=inp.account_id,
            conversation_id=c,
            at=now,
        )
        note = PostMessageInput(
            account_id=inp.account_id,
            conversation_id=c,
            idempotency_key=f"{wid}:note",
            at=now,
            content="VIP first-acknowledgment SLA breached.",
            private=True,
        )
        row = TicketEventRow(
            idempotency_key=f"{wid}:breached",
            workflow_id=wid,
            account_id=inp.account_id,
            conversation_id=c,
            policy="floor",
            action="sla.breached",
            at=now,
        )
        await asyncio.gather(
            workflow.execute_activity_method(PagerDutyActivities.send_event, page, **_OPTS),
            workflow.execute_activity_method(ChatwootActivities.send_message, note, **_OPTS),
            workflow.execute_activity_method(AuditActivities.record_ticket_event, row, **_OPTS),
        )
