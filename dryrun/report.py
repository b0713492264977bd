"""`ticketflow report`: the escalation metrics the SOPs track, from Postgres.

Per policy pack and period: tickets opened, tickets escalated, escalation
rate (the tier-escalation and lifecycle SOPs target < 10%), and time to
resolve after escalation (from the first handoff to the resolution).
Everything comes from `ticket_events`, which every ticket writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

QUERY = """
WITH opened AS (
    SELECT workflow_id, policy FROM ticket_events
    WHERE action = 'ticket.opened' AND at_time >= $1 AND at_time < $2
      AND ($3::text IS NULL OR policy = $3)
), escalated AS (
    SELECT workflow_id, min(at_time) AS first_escalation FROM ticket_events
    WHERE action = 'handoff.started' GROUP BY workflow_id
), resolved AS (
    SELECT workflow_id, min(at_time) AS resolved_at FROM ticket_events
    WHERE action = 'ticket.resolved' GROUP BY workflow_id
)
SELECT o.policy,
       count(*) AS opened,
       count(e.workflow_id) AS escalated,
       count(r.workflow_id)
           FILTER (WHERE e.workflow_id IS NOT NULL AND r.resolved_at >= e.first_escalation)
           AS resolved_after_escalation,
       avg(r.resolved_at - e.first_escalation) FILTER (WHERE r.resolved_at >= e.first_escalation)
           AS avg_resolve_after_escalation,
       percentile_cont(0.5)
           WITHIN GROUP (ORDER BY extract(epoch FROM r.resolved_at - e.first_escalation))
           FILTER (WHERE r.resolved_at >= e.first_escalation) AS median_seconds
FROM opened o
LEFT JOIN escalated e ON e.workflow_id = o.workflow_id
LEFT JOIN resolved r ON r.workflow_id = o.workflow_id
GROUP BY o.policy ORDER BY o.policy
"""


@dataclass
class PolicyMetrics:
    policy: str
    opened: int
    escalated: int
    resolved_after_escalation: int
    avg_resolve_after_escalation: timedelta | None
    median_resolve_after_escalation: timedelta | None

    @property
    def escalation_rate(self) -> float:
        return self.escalated / self.opened if self.opened else 0.0

    def as_dict(self) -> dict:
        def secs(d: timedelta | None) -> float | None:
            return None if d is None else round(d.total_seconds(), 1)

        return {
            "policy": self.policy,
            "opened": self.opened,
            "escalated": self.escalated,
            "escalation_rate": round(self.escalation_rate, 4),
            "escalation_rate_target": 0.10,
            "resolved_after_escalation": self.resolved_after_escalation,
            "avg_seconds_to_resolve_after_escalation": secs(self.avg_resolve_after_escalation),
            "median_seconds_to_resolve_after_escalation": secs(
                self.median_resolve_after_escalation
            ),
        }


async def escalation_metrics(
    dsn_or_pool, since: datetime, until: datetime, policy: str | None = None
) -> list[PolicyMetrics]:
    conn = (
        dsn_or_pool if isinstance(dsn_or_pool, asyncpg.Pool) else await asyncpg.connect(dsn_or_pool)
    )
    try:
        rows = await conn.fetch(QUERY, since, until, policy)
    finally:
        if not isinstance(dsn_or_pool, asyncpg.Pool):
            await conn.close()
    return [
        PolicyMetrics(
            r["policy"],
            r["opened"],
            r["escalated"],
            r["resolved_after_escalation"],
            r["avg_resolve_after_escalation"],
            None if r["median_seconds"] is None else timedelta(seconds=r["median_seconds"]),
        )
        for r in rows
    ]
