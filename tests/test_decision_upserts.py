"""The `decision-upserts` patch: a ticket's search attributes are
upserted in the workflow task that decides a change, before the decision's
actions run.

Before it, the loop upserted once the decision's actions had returned, the
breach note's regular Chatwoot activity included: a Chatwoot that hangs kept
a breached ticket out of `SlaState = "breached"` (the console's board, the
Web UI's filters) for as long as it hung. Now the upsert is among the
deciding task's commands, beside the note's scheduling.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.worker import Worker

from activities.policy import policy_activities
from models.batch import BatchResult, ChatwootBatchInput
from models.chatwoot import PostMessageInput, PostMessageResult
from sandbox.recording import Recorder, recording_activities
from tests.helpers import POLICIES_DIR, activity_name, eventually, start
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

HANG_CAP_S = 60.0  # a stuck test releases Chatwoot after this long rather than hang the suite


def _sla_states(events) -> list[str]:
    """SlaState values in the ticket's upserts, in history order."""
    out = []
    for ev in events:
        if ev.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            attrs = ev.upsert_workflow_search_attributes_event_attributes
            fields = attrs.search_attributes.indexed_fields
            if "SlaState" in fields:
                out.append(json.loads(fields["SlaState"].data))
    return out


async def test_a_breach_reaches_the_search_attributes_while_chatwoot_hangs(
    ts_env, cleanup, pg_pool, task_queue
):
    rec = Recorder()
    armed, release, hung = asyncio.Event(), asyncio.Event(), asyncio.Event()
    stand_ins = {activity_name(a): a for a in recording_activities(rec, pg_pool)}

    async def held() -> None:
        if armed.is_set():
            hung.set()
            try:
                await asyncio.wait_for(release.wait(), HANG_CAP_S)
            except TimeoutError:
                pass

    @activity.defn(name="chatwoot.send_message")
    async def send_message(inp: PostMessageInput) -> PostMessageResult:
        await held()
        return await stand_ins["chatwoot.send_message"](inp)

    @activity.defn(name="chatwoot.apply_batch")
    async def apply_batch(inp: ChatwootBatchInput) -> BatchResult:
        await held()
        return await stand_ins["chatwoot.apply_batch"](inp)

    others = [
        a
        for name, a in stand_ins.items()
        if name not in ("chatwoot.send_message", "chatwoot.apply_batch")
    ]
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[*policy_activities(POLICIES_DIR), send_message, apply_batch, *others],
    ):
        h = await start(ts_env, task_queue, cleanup)
        await eventually(lambda: h.query(TicketWorkflow.status), lambda s: s.sla_state == "running")
        notes_before = len(rec.of("chatwoot.note"))
        armed.set()
        # not awaited: the test server does not skip time while an activity is outstanding
        skip = asyncio.create_task(
            ts_env.sleep(timedelta(minutes=31))
        )  # past the 30-minute first reply
        try:
            await asyncio.wait_for(hung.wait(), 60)
            await eventually(
                lambda: h.query(TicketWorkflow.status), lambda s: s.pages
            )  # the page went out
            events = (await h.fetch_history()).events
            assert len(rec.of("chatwoot.note")) == notes_before, (
                "the breach note should still be hanging"
            )
            assert _sla_states(events)[-1] == "breached", _sla_states(events)
        finally:
            release.set()
            await asyncio.gather(skip, return_exceptions=True)
        await eventually(
            lambda: asyncio.sleep(0, result=rec.of("chatwoot.note")),
            lambda notes: len(notes) > notes_before,
            timeout=60,
        )
