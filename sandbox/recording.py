"""Recording stand-ins for the Chatwoot and PagerDuty activities.

Registered under the real activity names, with the real input types, they
answer as the real ones would and record every call as a timeline entry
(`ticketflow simulate` and the engine tests use them). Audit activities are
not stood in for: they run for real against Postgres and are recorded too.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from temporalio import activity

from models.audit import AuditRowInput, CountRecentLevelInput, CountResult, InsertResult, TicketEventRow
from models.chatwoot import (AssignInput, ChatwootCallResult, LabelsResult, MergeAttributesInput, PostMessageInput,
                             PostMessageResult, SetStatusInput, UpdateLabelsInput)
from models.pagerduty import PagerDutyEventInput, PagerDutyEventResult


@dataclass
class TimelineEntry:
    at: datetime
    action: str
    target: str | None
    details: dict[str, Any]
    seq: int

    def as_dict(self, tz) -> dict[str, Any]:
        # Whole seconds: a simulated event lands a few real milliseconds after
        # its instant (the test server's clock runs while a signal is sent).
        at = self.at.astimezone(tz).replace(microsecond=0)
        return {"at": at.isoformat(), "action": self.action, "target": self.target, **self.details}


@dataclass
class Recorder:
    entries: list[TimelineEntry] = field(default_factory=list)
    _seq: itertools.count = field(default_factory=itertools.count)
    _keys: set[str] = field(default_factory=set)
    labels: dict[int, list[str]] = field(default_factory=dict)

    def add(self, at: datetime, action: str, target: str | None, key: str | None, **details: Any) -> None:
        if key is not None:
            if key in self._keys:
                return  # a retried call: the real integrations dedupe it too
            self._keys.add(key)
        self.entries.append(TimelineEntry(at, action, target, details, next(self._seq)))

    def timeline(self) -> list[TimelineEntry]:
        return sorted(self.entries, key=lambda e: (e.at, e.seq))

    def of(self, action: str) -> list[TimelineEntry]:
        return [e for e in self.timeline() if e.action == action]


def recording_activities(rec: Recorder, audit_pool=None) -> list:
    """Stand-ins for every Chatwoot and PagerDuty activity, plus the real
    audit activities wrapped to record (when a pool is given)."""

    @activity.defn(name="chatwoot.send_message")
    async def send_message(inp: PostMessageInput) -> PostMessageResult:
        rec.add(inp.at, "chatwoot.note" if inp.private else "chatwoot.message", inp.target, inp.idempotency_key,
                content=inp.content)
        return PostMessageResult(message_id=1000 + len(rec.entries))

    @activity.defn(name="chatwoot.update_labels")
    async def update_labels(inp: UpdateLabelsInput) -> LabelsResult:
        labels = rec.labels.setdefault(inp.conversation_id, [])
        labels[:] = [x for x in labels if x not in inp.remove] + [x for x in inp.add if x not in labels]
        rec.add(inp.at, "chatwoot.labels", inp.target, inp.idempotency_key, add=inp.add, remove=inp.remove,
                labels=list(labels))
        return LabelsResult(labels=list(labels))

    @activity.defn(name="chatwoot.assign")
    async def assign(inp: AssignInput) -> ChatwootCallResult:
        rec.add(inp.at, "chatwoot.assign", inp.target, inp.idempotency_key, agent_id=inp.agent_id, team_id=inp.team_id)
        return ChatwootCallResult()

    @activity.defn(name="chatwoot.set_status")
    async def set_status(inp: SetStatusInput) -> ChatwootCallResult:
        rec.add(inp.at, "chatwoot.status", inp.target, inp.idempotency_key, status=inp.status)
        return ChatwootCallResult()

    @activity.defn(name="chatwoot.merge_custom_attributes")
    async def merge_custom_attributes(inp: MergeAttributesInput) -> ChatwootCallResult:
        rec.add(inp.at, "chatwoot.attributes", inp.target, inp.idempotency_key, set=inp.set)
        return ChatwootCallResult()

    @activity.defn(name="pagerduty.send_event")
    async def send_event(inp: PagerDutyEventInput) -> PagerDutyEventResult:
        rec.add(inp.at, f"pagerduty.{inp.event_action}", inp.target, f"{inp.dedup_key}:{inp.event_action}",
                dedup_key=inp.dedup_key, summary=inp.summary or None, severity=inp.severity if
                inp.event_action == "trigger" else None, routing_key_name=inp.routing_key_name)
        return PagerDutyEventResult(status="success", dedup_key=inp.dedup_key)

    stand_ins = [send_message, update_labels, assign, set_status, merge_custom_attributes, send_event]
    if audit_pool is None:
        return stand_ins
    from activities.audit import AuditActivities

    real = AuditActivities(audit_pool)

    @activity.defn(name="audit.record_ticket_event")
    async def record_ticket_event(row: TicketEventRow) -> InsertResult:
        result = await real.record_ticket_event(row)
        rec.add(row.at, row.action, row.target, row.idempotency_key, **row.details)
        return result

    def audited(table: str, method):
        @activity.defn(name=f"audit.{table}")
        async def record(inp: AuditRowInput) -> InsertResult:
            result = await method(inp)
            rec.add(inp.at, f"audit.{table}", None, inp.idempotency_key, row=inp.row, inserted=result.inserted)
            return result
        return record

    @activity.defn(name="audit.count_recent_level")
    async def count_recent_level(inp: CountRecentLevelInput) -> CountResult:
        return await real.count_recent_level(inp)

    return stand_ins + [
        record_ticket_event, count_recent_level,
        audited("vip_concierge_action", real.record_vip_concierge_action),
        audited("support_escalations", real.record_support_escalation),
        audited("founder_pull", real.record_founder_pull),
        audited("vip_flag_change", real.record_vip_flag_change),
        audited("decision_log", real.record_decision_log),
    ]
