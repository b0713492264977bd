"""How late a breach was, read from outside and from inside: when each
ticket's page and private note reached the sandboxes (the breach lateness
figures), and where the time went in a sample of histories (timer, workflow
task, page activity). Reading only: the phases that cause the breaches are
in bench/phases.py."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.client import Client

from bench.report import pct_of
from infra.history import activity_calls, event_time
from models.ticket import ticket_workflow_id

_CONV = re.compile(r"/conversations/(\d+)")


class CallIndex:
    """Per conversation: when its first PagerDuty trigger and its first
    private note reached the sandboxes (read incrementally)."""

    def __init__(self, stack) -> None:  # a bench.stack.Stack
        self.stack = stack
        self._pd = self._cw = 0
        self.page: dict[int, float] = {}
        self.note: dict[int, float] = {}

    def scan(self) -> None:
        pd, cw = self.stack.pd_calls, self.stack.cw_calls
        for call in pd[self._pd :]:
            body = call.get("body")
            if (
                call["status"] < 300
                and isinstance(body, dict)
                and body.get("event_action") == "trigger"
            ):
                for link in body.get("links") or []:
                    m = _CONV.search(link.get("href", ""))
                    if m:
                        self.page.setdefault(int(m.group(1)), call["t"])
        self._pd = len(pd)
        for call in cw[self._cw :]:
            body = call.get("body")
            if (
                call["method"] == "POST"
                and call["path"].endswith("/messages")
                and call["status"] < 300
                and isinstance(body, dict)
                and body.get("private")
            ):
                m = _CONV.search(call["path"])
                if m:
                    self.note.setdefault(int(m.group(1)), call["t"])
        self._cw = len(cw)

    def done(self, convs: list[int]) -> bool:
        self.scan()
        return all(c in self.page and c in self.note for c in convs)


async def events_per_breach(
    client: Client, workflow_ids: list[str], due: datetime
) -> dict[str, float]:
    """What one breach costs in history, averaged over `workflow_ids`: from
    the timer that fired at the deadline on, the events, workflow tasks
    (completed), regular activities by type and local activities (markers)
    by type. Server CPU follows events and tasks; worker CPU, tasks and
    activities too."""
    counts: dict[str, int] = {}
    sampled = 0
    for wid in workflow_ids:
        events = (await client.get_workflow_handle(wid).fetch_history()).events
        fired = next(
            (
                e
                for e in events
                if e.HasField("timer_fired_event_attributes")
                and e.event_time.ToDatetime(UTC) >= due - timedelta(seconds=1)
            ),
            None,
        )
        if fired is None:
            continue
        sampled += 1
        later = [e for e in events if e.event_id >= fired.event_id]
        keys = ["events"] * len(later) + ["workflow_tasks"] * sum(
            e.HasField("workflow_task_completed_event_attributes") for e in later
        )
        keys += [
            f"{'local' if c.local else 'activity'}:{c.activity_type}" for c in activity_calls(later)
        ]
        for k in keys:
            counts[k] = counts.get(k, 0) + 1
    return {k: round(v / sampled, 2) for k, v in sorted(counts.items())} if sampled else {}


class Stages(NamedTuple):
    stages: dict[str, dict[str, float]]
    page_local_fallbacks: int
    workflow_task_timeouts: dict[str, int]


async def breach_stages(client: Client, convs: list[int], due: datetime) -> Stages:
    """Where a burst's lateness goes, from a sample of histories: the
    instant the timer was set to fire (`timer_due`: late when the task that
    set it was held), the timer firing, the workflow task that decides the breach starting and
    completing, the page activity (regular or local) scheduled and done,
    each in seconds after the deadline (p50/p99 over the sample); and how
    many pages fell back from a local to a regular activity and which
    workflow tasks timed out after the deadline."""
    stages: dict[str, list[float]] = {
        k: []
        for k in (
            "timer_due",
            "timer_fired",
            "decision_started",
            "page_scheduled",
            "page_completed",
            "decision_completed",
        )
    }
    fallbacks = (
        0  # pages whose local attempt gave up (LOCAL_ATTEMPT) and went on as a regular activity
    )
    task_timeouts: dict[
        str, int
    ] = {}  # workflow tasks timed out after the deadline (a sticky task not picked up in time, ...)
    for c in convs:
        events = (await client.get_workflow_handle(ticket_workflow_id(1, c)).fetch_history()).events
        fired = next(
            (
                e
                for e in events
                if e.HasField("timer_fired_event_attributes")
                and e.event_time.ToDatetime(UTC) >= due - timedelta(seconds=1)
            ),
            None,
        )
        if fired is None:
            continue
        later = [e for e in events if e.event_id > fired.event_id]
        wft = event_time(
            next((e for e in later if e.HasField("workflow_task_started_event_attributes")), None)
        )
        wft_done = event_time(
            next((e for e in later if e.HasField("workflow_task_completed_event_attributes")), None)
        )
        pages = [
            call for call in activity_calls(later) if call.activity_type == "pagerduty.send_event"
        ]
        fallbacks += any(call.local and call.failed for call in pages)
        for e in later:
            if e.HasField("workflow_task_timed_out_event_attributes"):
                kind = TimeoutType.Name(e.workflow_task_timed_out_event_attributes.timeout_type)
                task_timeouts[kind] = task_timeouts.get(kind, 0) + 1
        page = next((call for call in pages if not call.failed), None)
        started = next(
            (
                e
                for e in events
                if e.event_id == fired.timer_fired_event_attributes.started_event_id
            ),
            None,
        )
        # When the server was told to fire it: started (as the task that set it completed) +
        # its duration (computed from the clock the task started with).
        due_at = (
            started.event_time.ToDatetime(UTC)
            + started.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            if started is not None
            else None
        )
        for key, t in (
            ("timer_due", due_at),
            ("timer_fired", event_time(fired)),
            ("decision_started", wft),
            ("decision_completed", wft_done),
            ("page_scheduled", page.scheduled_at if page is not None else None),
            ("page_completed", page.completed_at if page is not None else None),
        ):
            if t is not None:
                stages[key].append((t - due).total_seconds())
    return Stages(
        {
            k: {"p50": round(pct_of(v, 50), 3), "p99": round(pct_of(v, 99), 3), "n": len(v)}
            for k, v in stages.items()
            if v
        },
        fallbacks,
        task_timeouts,
    )


class Idle(NamedTuple):
    last_task_done: datetime | None  # the latest WorkflowTaskCompleted at or after `since`
    busy: list[str]  # workflow ids with an activity or a workflow task still in flight


_ACTIVITY_CLOSED = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes",
}
_TASK_OPEN = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}


async def idle(
    client: Client, workflow_ids: list[str], since: datetime, concurrency: int = 16
) -> Idle:
    """Whether `workflow_ids` have finished what they were doing, read from
    their histories: none has a regular activity scheduled and not closed, or
    a workflow task not completed (a local activity runs inside one), and
    when the last of them completed its last workflow task after `since`.

    The same test for every code path and for the floor: a ticket whose
    side effects run beside its loop records its inputs before its Chatwoot
    call returns, so "inputs recorded" is not "done" there."""
    sem = asyncio.Semaphore(concurrency)
    last: datetime | None = None
    busy: list[str] = []

    async def one(wid: str) -> None:
        nonlocal last
        async with sem:
            events = (await client.get_workflow_handle(wid).fetch_history()).events
        pending: set[int] = set()
        task_open = False
        done: datetime | None = None
        for ev in events:
            if ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                pending.add(ev.event_id)
            elif ev.event_type in _ACTIVITY_CLOSED:
                pending.discard(getattr(ev, _ACTIVITY_CLOSED[ev.event_type]).scheduled_event_id)
            elif ev.event_type in _TASK_OPEN:
                task_open = True
            elif ev.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                task_open = False
                done = event_time(ev)
        if pending or task_open:
            busy.append(wid)
        elif done is not None and done >= since and (last is None or done > last):
            last = done

    await asyncio.gather(*(one(wid) for wid in workflow_ids))
    return Idle(last, busy)
