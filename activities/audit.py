"""Postgres audit activities. Every insert is idempotent: a unique key
derived from the workflow id and action sequence, `ON CONFLICT DO NOTHING`."""

from __future__ import annotations

import json

import asyncpg
from temporalio import activity

from models.audit import InsertResult, TicketEventRow


class AuditActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @activity.defn(name="audit.record_ticket_event")
    async def record_ticket_event(self, row: TicketEventRow) -> InsertResult:
        status = await self.pool.execute(
            """INSERT INTO ticket_events (idempotency_key, workflow_id, account_id, conversation_id,
                                          policy, action, target, details, at_time)
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
        return InsertResult(inserted=status.endswith(" 1"))
