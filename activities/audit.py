"""Postgres audit activities. Every insert is idempotent: its unique key is
the ticket's action key, and `ON CONFLICT DO NOTHING` makes a retry a no-op.
Each activity is one delivery attempt on `postgres`
(activities/delivery_metrics.py): counted, and shown on the console's board
while Postgres fails."""

from __future__ import annotations

import json
from datetime import timedelta

import asyncpg
from temporalio import activity

from activities.delivery_metrics import delivers_to
from activities.errors import data_errors_are_final
from models.audit import (
    AuditRowInput,
    CountRecentLevelInput,
    CountResult,
    InsertResult,
    TicketEventRow,
)
from models.recorded_inputs import RecordInputs, RecordInputsResult


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _bool(value: object) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "yes", "1")


def _inserted(status: str) -> InsertResult:
    return InsertResult(inserted=status.endswith(" 1"))


@delivers_to("postgres")
@data_errors_are_final  # a row Postgres rejects fails at once, never wedges the ticket
class AuditActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @activity.defn(name="audit.record_ticket_event")
    async def record_ticket_event(self, row: TicketEventRow) -> InsertResult:
        return _inserted(
            await self.pool.execute(
                """INSERT INTO ticket_events (idempotency_key, workflow_id, account_id,
                                          conversation_id, policy, action, target, details,
                                          at_time)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)
               ON CONFLICT (idempotency_key) DO NOTHING""",
                row.idempotency_key,
                row.workflow_id,
                row.account_id,
                row.conversation_id,
                row.policy,
                row.action,
                row.target,
                json.dumps(row.details, default=str),
                row.at,
            )
        )

    @activity.defn(name="audit.vip_concierge_action")
    async def record_vip_concierge_action(self, inp: AuditRowInput) -> InsertResult:
        r = inp.row
        amount = r.get("amount")
        return _inserted(
            await self.pool.execute(
                """INSERT INTO vip_concierge_action (chatwoot_conv_id, customer_id, action_type,
                                                 amount, by_agent, reason,
                                                 authority_within_limit, at_time, notes,
                                                 idempotency_key)
               VALUES ($1, $2::uuid, $3, $4::numeric, $5, $6, $7, $8, $9, $10)
               ON CONFLICT (idempotency_key) DO NOTHING""",
                inp.conversation_id,
                inp.customer_id,
                str(r.get("action_type") or "escalate"),
                None if amount in (None, "") else str(amount),
                str(r.get("by_agent") or inp.owner or "ticketflow"),
                _text(r.get("reason")),
                _bool(r.get("authority_within_limit")),
                inp.at,
                _text(r.get("notes")),
                inp.idempotency_key,
            )
        )

    @activity.defn(name="audit.support_escalations")
    async def record_support_escalation(self, inp: AuditRowInput) -> InsertResult:
        c = inp.context
        return _inserted(
            await self.pool.execute(
                """INSERT INTO support_escalations (idempotency_key, workflow_id, policy,
                                                chatwoot_conv_id, customer_id, vip, from_agent,
                                                to_target, handoff, reason, payload, notes,
                                                at_time)
               VALUES ($1, $2, $3, $4, $5::uuid, $6, $7, $8, $9, $10, $11::jsonb, $12, $13)
               ON CONFLICT (idempotency_key) DO NOTHING""",
                inp.idempotency_key,
                inp.workflow_id,
                inp.policy,
                inp.conversation_id,
                inp.customer_id,
                inp.vip,
                _text(c.get("by") or inp.row.get("by_agent")),
                str(c.get("target") or inp.row.get("to_target") or "unknown"),
                _text(c.get("handoff")),
                _text(c.get("reason") or inp.row.get("reason")),
                json.dumps(c.get("payload") or {}, default=str),
                _text(inp.row.get("notes")),
                inp.at,
            )
        )

    @activity.defn(name="audit.founder_pull")
    async def record_founder_pull(self, inp: AuditRowInput) -> InsertResult:
        r, c = inp.row, inp.context
        raw_payload = c.get("payload")
        payload = raw_payload if isinstance(raw_payload, dict) else {}
        return _inserted(
            await self.pool.execute(
                """INSERT INTO founder_pull_audit (idempotency_key, workflow_id, chatwoot_conv_id,
                                               customer_id, outcome, why_founder,
                                               lola_recommendation, decision, founder_action,
                                               by_agent, notes, at_time)
               VALUES ($1, $2, $3, $4::uuid, $5, $6, $7, $8, $9, $10, $11, $12)
               ON CONFLICT (idempotency_key) DO NOTHING""",
                inp.idempotency_key,
                inp.workflow_id,
                inp.conversation_id,
                inp.customer_id,
                str(r.get("outcome") or "requested"),
                _text(payload.get("why_founder") or c.get("reason")),
                _text(payload.get("lola_recommendation")),
                _text(c.get("decision")),
                _text(c.get("founder_action")),
                _text(r.get("by_agent")),
                _text(r.get("notes")),
                inp.at,
            )
        )

    @activity.defn(name="audit.vip_flag_change")
    async def record_vip_flag_change(self, inp: AuditRowInput) -> InsertResult:
        c = inp.context
        return _inserted(
            await self.pool.execute(
                """INSERT INTO vip_flag_change_audit (idempotency_key, workflow_id,
                                                  chatwoot_conv_id, customer_id, vip, by_agent,
                                                  why, at_time)
               VALUES ($1, $2, $3, $4::uuid, $5, $6, $7, $8)
               ON CONFLICT (idempotency_key) DO NOTHING""",
                inp.idempotency_key,
                inp.workflow_id,
                inp.conversation_id,
                inp.customer_id,
                bool(_bool(c.get("new_vip"))),
                str(c.get("by") or inp.row.get("by_agent") or "unknown"),
                _text(c.get("why")),
                inp.at,
            )
        )

    @activity.defn(name="audit.decision_log")
    async def record_decision_log(self, inp: AuditRowInput) -> InsertResult:
        r = inp.row
        return _inserted(
            await self.pool.execute(
                """INSERT INTO decision_log (idempotency_key, workflow_id, policy, chatwoot_conv_id,
                                         severity, level, actions_taken, next_action, opened_at,
                                         at_time)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
               ON CONFLICT (idempotency_key) DO NOTHING""",
                inp.idempotency_key,
                inp.workflow_id,
                inp.policy,
                inp.conversation_id,
                inp.severity,
                inp.level,
                _text(r.get("actions_taken")),
                _text(r.get("next_action")),
                None,
                inp.at,
            )
        )

    @activity.defn(name="audit.count_recent_level")
    async def count_recent_level(self, inp: CountRecentLevelInput) -> CountResult:
        """How many *other* tickets of this pack reached `level` in the window."""
        count = await self.pool.fetchval(
            """SELECT count(DISTINCT workflow_id) FROM ticket_events
               WHERE policy = $1 AND action = 'ticket.level' AND (details->>'level')::int = $2
                 AND at_time > $3 AND at_time <= $4 AND workflow_id <> $5""",
            inp.policy,
            inp.level,
            inp.at - timedelta(seconds=inp.window_seconds),
            inp.at,
            inp.exclude_workflow_id,
        )
        return CountResult(count=int(count or 0))

    @activity.defn(name="audit.record_inputs")
    async def record_inputs(self, inp: RecordInputs) -> RecordInputsResult:
        """A workflow's engine inputs of one decision (workflows/inputs.py), in one
        statement. Keyed by (workflow id, life, seq): a retry writes nothing twice."""
        rows = inp.rows
        status = await self.pool.execute(
            """INSERT INTO ticket_inputs (workflow_id, life, seq, kind, payload, at, source,
                                          rejected, policy, policy_version)
               SELECT w, l, s, k, p::jsonb, a, src, rej, pol, ver
               FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[],
                           $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::text[])
                    AS t(w, l, s, k, p, a, src, rej, pol, ver)
               ON CONFLICT (workflow_id, life, seq) DO NOTHING""",
            [r.workflow_id for r in rows],
            [r.life for r in rows],
            [r.seq for r in rows],
            [r.kind for r in rows],
            [json.dumps(r.payload, default=str) for r in rows],
            [r.at for r in rows],
            [r.source for r in rows],
            [r.rejected for r in rows],
            [r.policy for r in rows],
            [r.policy_version for r in rows],
        )
        return RecordInputsResult(inserted=int(status.rsplit(" ", 1)[-1]))
