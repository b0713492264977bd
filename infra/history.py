"""Read a workflow's activity calls from its history, regular or local.

A regular activity leaves ActivityTaskScheduled/Started/Completed events; a
local one (the `local-lanes` patch) leaves one `core_local_activity` marker
per finished call, its type, attempt and completion time in the marker's
data. Tests and the bench read both through `activity_calls`, so they do not
depend on which way a ticket ran its actions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

LOCAL_ACTIVITY_MARKER = "core_local_activity"


@dataclass(frozen=True)
class ActivityCall:
    activity_type: str
    attempt: int  # the attempt that ended (a local activity's marker records only that one)
    local: bool
    scheduled_at: datetime | None  # the event's time (a local call: when it was first scheduled)
    completed_at: datetime | None  # None while it runs, or when it failed
    failed: bool = False


def event_time(ev: HistoryEvent | None) -> datetime | None:
    """An event's time in UTC; None for no event."""
    return ev.event_time.ToDatetime(UTC) if ev is not None else None


def _stamp(value) -> datetime | None:
    """A marker timestamp: {"seconds", "nanos"} (core's JSON) or RFC 3339."""
    if not value:
        return None
    if isinstance(value, dict):
        return datetime.fromtimestamp(
            int(value.get("seconds", 0)) + int(value.get("nanos", 0)) / 1e9, UTC
        )
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _local(ev: HistoryEvent) -> ActivityCall:
    attrs = ev.marker_recorded_event_attributes
    data = json.loads(attrs.details["data"].payloads[0].data)
    completed = data.get("complete_time") or data.get("completeTime")
    scheduled = data.get("original_schedule_time") or data.get("originalScheduleTime")
    failed = attrs.HasField("failure")
    return ActivityCall(
        activity_type=data.get("activity_type") or data.get("activityType", ""),
        attempt=int(data.get("attempt", 1)),
        local=True,
        scheduled_at=_stamp(scheduled),
        completed_at=None if failed else _stamp(completed),
        failed=failed,
    )


def activity_calls(events: list[HistoryEvent]) -> list[ActivityCall]:
    """Every activity call of a history: the local ones first, then the
    regular ones, each with the attempt it ended on."""
    scheduled: dict[int, HistoryEvent] = {}
    started: dict[int, HistoryEvent] = {}
    calls: list[ActivityCall] = []
    ended: dict[int, tuple[datetime | None, bool]] = {}
    for ev in events:
        if ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled[ev.event_id] = ev
        elif ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started[ev.event_id] = ev
        elif ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            ended[ev.activity_task_completed_event_attributes.started_event_id] = (
                event_time(ev),
                False,
            )
        elif ev.event_type in (
            EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
            EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        ):
            attrs = (
                ev.activity_task_failed_event_attributes
                if ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
                else ev.activity_task_timed_out_event_attributes
            )
            ended[attrs.started_event_id] = (None, True)
        elif (
            ev.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and ev.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
        ):
            calls.append(_local(ev))
    for sid, ev in started.items():
        sched = scheduled[ev.activity_task_started_event_attributes.scheduled_event_id]
        completed, failed = ended.get(sid, (None, False))
        calls.append(
            ActivityCall(
                activity_type=sched.activity_task_scheduled_event_attributes.activity_type.name,
                attempt=ev.activity_task_started_event_attributes.attempt,
                local=False,
                scheduled_at=event_time(sched),
                completed_at=completed,
                failed=failed,
            )
        )
    return calls
