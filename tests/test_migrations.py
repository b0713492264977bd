from datetime import UTC, datetime

import asyncpg

from activities.audit import AuditActivities
from infra import db
from models.audit import TicketEventRow


async def test_migrations_are_tracked_and_idempotent(postgres_dsn):
    assert await db.migrate(postgres_dsn) == []  # the fixture already applied them
    conn = await asyncpg.connect(postgres_dsn)
    try:
        versions = [
            r["version"]
            for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")
        ]
    finally:
        await conn.close()
    assert versions == [m.version for m in db.discover()]


async def test_ticket_event_insert_is_idempotent(pg_pool):
    acts = AuditActivities(pg_pool)
    row = TicketEventRow(
        idempotency_key="t-mig-1:0",
        workflow_id="t-mig-1",
        account_id=1,
        conversation_id=1,
        policy="p",
        action="ticket.opened",
        at=datetime(2026, 11, 17, tzinfo=UTC),
    )
    assert (await acts.record_ticket_event(row)).inserted is True
    assert (await acts.record_ticket_event(row)).inserted is False  # an activity retry
    count = await pg_pool.fetchval(
        "SELECT count(*) FROM ticket_events WHERE workflow_id = 't-mig-1'"
    )
    assert count == 1
