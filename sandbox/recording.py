"""Recording stand-ins for the Chatwoot and PagerDuty activities.

Registered under the real activity names, with the real input types, they
answer as the real ones would and record every call as a timeline entry
(`ticketflow simulate` and the engine tests use them). Audit activities are
not stood in for: they run for real against Postgres and are recorded too.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio import activity

from models.adoption import Adoption
from models.audit import (
    AuditRowInput,
    CountRecentLevelInput,
    CountResult,
    InsertResult,
    TicketEventRow,
)
from models.batch import AuditBatchInput, BatchResult, ChatwootBatchInput, OpOutcome
from models.channels import (
    EmailInput,
    EmailResult,
    SlackMessageRef,
    SlackPostInput,
    SlackUpdateInput,
)
from models.chatwoot import (
    AdoptionInput,
    AssignInput,
    ChatwootCallResult,
    LabelsResult,
    MergeAttributesInput,
    PostMessageInput,
    PostMessageResult,
    ReplyCheckInput,
    ReplyCheckResult,
    SetStatusInput,
    UpdateLabelsInput,
)
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
        # Every instant, `at` and any in the details (deadline, due ...), reads
        # in the pack's zone with the offset in force at that instant.
        return {
            "at": local_iso(self.at, tz),
            "action": self.action,
            "target": self.target,
            **_localize(self.details, tz),
        }


_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)$")


def local_iso(t: datetime, tz) -> str:
    return t.astimezone(tz).replace(microsecond=0).isoformat()


def _localize(value: Any, tz) -> Any:
    if isinstance(value, dict):
        return {k: _localize(v, tz) for k, v in value.items()}
    if isinstance(value, list):
        return [_localize(v, tz) for v in value]
    if isinstance(value, datetime) and value.tzinfo is not None:
        return local_iso(value, tz)
    if isinstance(value, str) and _ISO_INSTANT.match(value):
        return local_iso(datetime.fromisoformat(value), tz)
    return value


@dataclass
class Recorder:
    entries: list[TimelineEntry] = field(default_factory=list)
    _seq: itertools.count = field(default_factory=itertools.count)
    _keys: set[str] = field(default_factory=set)
    labels: dict[int, list[str]] = field(default_factory=dict)

    def add(
        self, at: datetime, action: str, target: str | None, key: str | None, /, **details: Any
    ) -> None:
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
    """Stand-ins for every Chatwoot, PagerDuty, Slack and e-mail activity, plus the real
    audit activities wrapped to record (when a pool is given)."""

    @activity.defn(name="chatwoot.send_message")
    async def send_message(inp: PostMessageInput) -> PostMessageResult:
        rec.add(
            inp.at,
            "chatwoot.note" if inp.private else "chatwoot.message",
            inp.target,
            inp.idempotency_key,
            content=inp.content,
        )
        return PostMessageResult(message_id=1000 + len(rec.entries))

    @activity.defn(name="chatwoot.update_labels")
    async def update_labels(inp: UpdateLabelsInput) -> LabelsResult:
        labels = rec.labels.setdefault(inp.conversation_id, [])
        labels[:] = [x for x in labels if x not in inp.remove] + [
            x for x in inp.add if x not in labels
        ]
        rec.add(
            inp.at,
            "chatwoot.labels",
            inp.target,
            inp.idempotency_key,
            add=inp.add,
            remove=inp.remove,
            labels=list(labels),
        )
        return LabelsResult(labels=list(labels))

    @activity.defn(name="chatwoot.assign")
    async def assign(inp: AssignInput) -> ChatwootCallResult:
        rec.add(
            inp.at,
            "chatwoot.assign",
            inp.target,
            inp.idempotency_key,
            agent_id=inp.agent_id,
            team_id=inp.team_id,
        )
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
        rec.add(
            inp.at,
            f"pagerduty.{inp.event_action}",
            inp.target,
            f"{inp.dedup_key}:{inp.event_action}",
            dedup_key=inp.dedup_key,
            summary=inp.summary or None,
            severity=inp.severity if inp.event_action == "trigger" else None,
            routing_key_name=inp.routing_key_name,
        )
        return PagerDutyEventResult(status="success", dedup_key=inp.dedup_key)

    @activity.defn(name="slack.post")
    async def slack_post(inp: SlackPostInput) -> SlackMessageRef:
        m = inp.message
        rec.add(inp.at, "slack.post", inp.target, m.key, to=inp.to, title=m.title, text=m.text)
        return SlackMessageRef(channel=inp.to, ts=f"{len(rec.entries)}.000100")

    @activity.defn(name="slack.update")
    async def slack_update(inp: SlackUpdateInput) -> SlackMessageRef:
        m = inp.message
        rec.add(inp.at, "slack.update", None, inp.update_key, post=m.key, status=m.status)
        return SlackMessageRef(channel=inp.to, ts="0.000100")

    @activity.defn(name="email.send")
    async def email_send(inp: EmailInput) -> EmailResult:
        m = inp.message
        rec.add(inp.at, "email.send", inp.target, m.key, to=inp.to, subject=inp.subject)
        return EmailResult(message_id=f"<{m.key}@simulated>")

    chatwoot: dict[str, Callable[[Any], Awaitable[object]]] = {
        "message": send_message,
        "labels": update_labels,
        "assign": assign,
        "status": set_status,
        "attributes": merge_custom_attributes,
    }

    @activity.defn(name="chatwoot.apply_batch")
    async def apply_batch(inp: ChatwootBatchInput) -> BatchResult:
        for op in inp.ops:
            await chatwoot[op.kind](getattr(op, op.kind))
        return BatchResult(outcomes=[OpOutcome() for _ in inp.ops])

    @activity.defn(name="chatwoot.check_reply")
    async def check_reply(inp: ReplyCheckInput) -> ReplyCheckResult:
        return ReplyCheckResult()  # the recorder holds no agent replies

    @activity.defn(name="chatwoot.read_adoption")
    async def read_adoption(inp: AdoptionInput) -> Adoption:
        return Adoption(at=datetime.now(UTC))  # nor any history

    stand_ins = [
        check_reply,
        read_adoption,
        send_message,
        update_labels,
        assign,
        set_status,
        merge_custom_attributes,
        send_event,
        apply_batch,
        slack_post,
        slack_update,
        email_send,
    ]
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
            rec.add(
                inp.at,
                f"audit.{table}",
                None,
                inp.idempotency_key,
                row=inp.row,
                inserted=result.inserted,
            )
            return result

        return record

    @activity.defn(name="audit.count_recent_level")
    async def count_recent_level(inp: CountRecentLevelInput) -> CountResult:
        return await real.count_recent_level(inp)

    tables = {
        "vip_concierge_action": audited("vip_concierge_action", real.record_vip_concierge_action),
        "support_escalations": audited("support_escalations", real.record_support_escalation),
        "founder_pull": audited("founder_pull", real.record_founder_pull),
        "vip_flag_change": audited("vip_flag_change", real.record_vip_flag_change),
        "decision_log": audited("decision_log", real.record_decision_log),
    }

    @activity.defn(name="audit.record_batch")
    async def record_batch(inp: AuditBatchInput) -> BatchResult:
        for item in inp.items:
            if item.event is not None:
                await record_ticket_event(item.event)
            elif item.row is not None:
                await tables[item.row.table](item.row)
            else:
                raise ValueError("an audit batch item with neither an event nor a row")
        return BatchResult(outcomes=[OpOutcome() for _ in inp.items])

    # A ticket's engine inputs (`ticket_inputs`) are written for real, kept out of
    # the timeline (they are not actions).
    return stand_ins + [
        record_ticket_event,
        count_recent_level,
        record_batch,
        real.record_inputs,
        *tables.values(),
    ]
