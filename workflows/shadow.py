"""Asking the worker whether a ticket in shadow mode still is (`shadow-mode`).

A ticket in shadow (models/shadow.py) runs this before each decision: one
local activity, `policy.mode`, answered from the worker's SHADOW_POLICIES and
SHADOW_INBOXES, its answer recorded in the ticket's history (so a replay
decides the same). Only tickets in shadow ask; live tickets never do. A
check that fails or times out leaves the ticket in shadow for that decision:
sending nothing is the safe side, and the next decision asks again.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.policy import PolicyActivities
    from engine.core import TicketEngine
    from models.shadow import ModeQuery
    from models.signals import WentLive
    from workflows.actions import ACTIVITY_FAILED, LOCAL_ATTEMPT_BESIDE_LOOP, failure_message
    from workflows.ticket_inbox import Queued

UNKNOWN = "mode check failed: still in shadow"


async def still_shadow(policy: str, inbox_id: int | None) -> str | None:
    """Why the ticket still runs in shadow mode; None: it runs live now."""
    try:
        mode = await workflow.execute_local_activity_method(
            PolicyActivities.mode,
            ModeQuery(policy=policy, inbox_id=inbox_id),
            summary=f"Shadow mode still on for {policy}?",
            start_to_close_timeout=LOCAL_ATTEMPT_BESIDE_LOOP,
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
    except ACTIVITY_FAILED as err:
        workflow.logger.warning("shadow mode check failed", extra={"error": failure_message(err)})
        return UNKNOWN
    return mode.shadow


def live_reason(policy: str, inbox_id: int | None) -> str:
    """What the worker's settings say when a ticket goes live."""
    where = f"{policy}" + (f" nor inbox {inbox_id}" if inbox_id is not None else "")
    return f"SHADOW_POLICIES and SHADOW_INBOXES no longer name {where}"


async def went_live(engine: TicketEngine, now: datetime, applied_at: datetime) -> list[Queued]:
    """For a ticket in shadow mode, before a decision: nothing while the worker
    still runs it in shadow; else the `WentLive` event to apply first, at the
    last instant the ticket applied (`applied_at`), seen at `now`. Applied
    there, it comes before any deadline this decision fires, however late the
    wake: the setting changed before the ticket looked."""
    t = engine.state.ticket
    if await still_shadow(t.policy, t.inbox_id) is not None:
        return []
    went = WentLive(why=live_reason(t.policy, t.inbox_id), seen_at=now, source="system")
    return [Queued("went_live", went, applied_at)]
