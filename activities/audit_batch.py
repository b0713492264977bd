"""One audit activity for all audit rows of a decision, in one transaction.

Each item is written by the same statement as its single activity
(AuditActivities, `ON CONFLICT DO NOTHING` on its key, so a retried batch
is a no-op for rows already there). Each item runs in a savepoint: a row
Postgres refuses as bad data (a value out of range) is reported in its
outcome and the others are still written; any other error (connection
lost) fails the attempt and the batch retries. The batch is one delivery
attempt on `postgres` (activities/delivery_metrics.py), its rows' single
activities inside it are not counted again.
"""

from __future__ import annotations

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit import AuditActivities
from activities.delivery_metrics import delivers_to
from activities.errors import DATA_ERROR_TYPE, DATA_ERRORS
from models.batch import AuditBatchInput, AuditBatchItem, BatchResult, OpOutcome

_ROWS = {
    "vip_concierge_action": AuditActivities.record_vip_concierge_action,
    "support_escalations": AuditActivities.record_support_escalation,
    "founder_pull": AuditActivities.record_founder_pull,
    "vip_flag_change": AuditActivities.record_vip_flag_change,
    "decision_log": AuditActivities.record_decision_log,
}


# What an item's savepoint reports as its own bad data; the others still get written.
_ITEM_ERRORS: tuple[type[BaseException], ...] = (*DATA_ERRORS, ValueError)


@delivers_to("postgres")
class AuditBatchActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @staticmethod
    async def _write(writer: AuditActivities, item: AuditBatchItem) -> None:
        if item.event is not None:
            await writer.record_ticket_event(item.event)
        elif item.row is not None and item.row.table in _ROWS:
            await _ROWS[item.row.table](writer, item.row)
        else:
            raise ValueError(f"no audit table {item.row.table if item.row else None!r}")

    @activity.defn(name="audit.record_batch")
    async def record_batch(self, inp: AuditBatchInput) -> BatchResult:
        outcomes = []
        async with self.pool.acquire() as conn, conn.transaction():
            writer = AuditActivities(conn)  # the same statements, on this transaction's connection
            for item in inp.items:
                try:
                    # A savepoint: a bad row does not undo the others.
                    async with conn.transaction():
                        await self._write(writer, item)
                    outcomes.append(OpOutcome())
                except _ITEM_ERRORS as exc:
                    outcomes.append(OpOutcome(ok=False, error=f"{type(exc).__name__}: {exc}"[:300]))
                except ApplicationError as exc:  # the single activities' own data-error verdict
                    if exc.type != DATA_ERROR_TYPE:
                        raise
                    outcomes.append(OpOutcome(ok=False, error=f"{exc.type}: {exc.message}"[:300]))
        return BatchResult(outcomes=outcomes)
