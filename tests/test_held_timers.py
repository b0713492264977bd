"""A deadline armed in a workflow task held by local activities keeps time.

A local activity holds the task that scheduled it, and the task's timers
reach the server only when it is done (workflows/held_task.py). Here the
opening's inputs record, a local activity, takes 0.4 s (a Postgres under a
burst of openings): the first-acknowledgment timer must still fire at the
deadline, not 0.4 s after it, and the history must replay."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from activities.policy import policy_activities
from models.recorded_inputs import RecordInputs, RecordInputsResult
from sandbox.recording import Recorder, recording_activities
from tests.helpers import POLICIES_DIR, activity_name, eventually, settled, start
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

ACK = timedelta(minutes=30)  # vip-concierge's first acknowledgment
HOLD = 0.4  # seconds the opening's inputs record takes (under the local attempt's 0.5 s)


async def test_a_timer_armed_in_a_held_task_fires_at_its_deadline(
    ts_env: WorkflowEnvironment, pg_pool: Any, task_queue: str, cleanup: list[str]
) -> None:
    stand_ins = {activity_name(a): a for a in recording_activities(Recorder(), pg_pool)}
    recorded = stand_ins["audit.record_inputs"]

    @activity.defn(name="audit.record_inputs")
    async def record_inputs(inp: RecordInputs) -> RecordInputsResult:
        await asyncio.sleep(HOLD)  # a slow Postgres, not a clock: nothing waits on it
        result: RecordInputsResult = await recorded(inp)
        return result

    stand_ins["audit.record_inputs"] = record_inputs
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[*policy_activities(Path(POLICIES_DIR)), *stand_ins.values()],
    ):
        h = await start(ts_env, task_queue, cleanup)
        # The opening task done before time skips (the server would skip past a held task).
        await settled(h)
        await ts_env.sleep(ACK + timedelta(minutes=1))
        await eventually(lambda: h.query(TicketWorkflow.status), lambda s: s.pages)
        history = await h.fetch_history()

    events = history.events
    first_task = next(
        e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
    )
    # The deadline, by the server's clock: the ticket opened (its `now`) no later than this.
    deadline = first_task.event_time.ToDatetime() + ACK
    fired = [
        e.event_time.ToDatetime()
        for e in events
        if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED
        and e.event_time.ToDatetime() > deadline - timedelta(minutes=1)
    ]
    assert fired, "no timer fired near the deadline"
    # Armed once, the timer would start when the opening task ended, 0.4 s after it began.
    # (0.25 s: room for a loaded machine's task processing, well under the 0.4 s hold.)
    assert fired[0] - deadline < timedelta(seconds=0.25), fired[0] - deadline
    # The re-arm is decided from the history alone: the run replays.
    await Replayer(
        workflows=[TicketWorkflow, HandoffWorkflow], data_converter=pydantic_data_converter
    ).replay_workflow(history)
