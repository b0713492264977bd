"""Shadow mode on the time-skipping server: a VIP ticket whose pack is in the
worker's shadow settings breaches, leaves audit rows saying what would have
been sent and makes no Chatwoot or PagerDuty call; the pack taken out of the
settings, its next breach pages. `whatif` over it replays as it ran."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.worker import Worker

from activities.policy import policy_activities
from dryrun.whatif import whatif_dsn
from engine.policy_loader import load_policy
from models.shadow import ShadowScope
from models.signals import Resolved
from sandbox.recording import Recorder, recording_activities
from tests.helpers import POLICIES_DIR, TUESDAY_10, eventually, start
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

OUTSIDE = ("chatwoot.", "pagerduty.")  # the recorder's names of Chatwoot and PagerDuty calls


async def events(pool, wid: str, action: str) -> list:
    return await pool.fetch(
        "SELECT target, details::text AS details, at_time FROM ticket_events"
        " WHERE workflow_id = $1 AND action = $2"
        " ORDER BY at_time",
        wid,
        action,
    )


async def test_shadow_breach_is_audited_not_sent_and_going_live_pages_the_next(
    ts_env, pg_pool, postgres_dsn, task_queue, cleanup
):
    rec, inbox = Recorder(), int(uuid.uuid4().int % 10**8) + 1
    scope = ShadowScope(inboxes={inbox})  # SHADOW_INBOXES=<inbox>
    async with Worker(
        ts_env.client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[
            *policy_activities(POLICIES_DIR, pg_pool, scope),
            *recording_activities(rec, pg_pool),
        ],
    ):
        h = await start(ts_env, task_queue, cleanup, inbox_id=inbox)  # Tuesday 10:00
        status = await h.query(TicketWorkflow.status)
        assert status.shadow == f"SHADOW_INBOXES names inbox {inbox}"

        # 10:31: the 30-minute acknowledgement SLA breached; Lola would be paged.
        await ts_env.sleep(timedelta(minutes=31))
        rows = await eventually(
            lambda: events(pg_pool, h.id, "shadow.withheld"),
            lambda rs: any("pagerduty.trigger" in r["details"] for r in rs),
        )
        assert await events(pg_pool, h.id, "sla.breached")
        page = next(r for r in rows if "pagerduty.trigger" in r["details"])
        assert page["target"] == "lola" and "Would page Laura Daniels" in page["details"]
        assert any("Would post a private note" in r["details"] for r in rows)
        assert [e for e in rec.timeline() if e.action.startswith(OUTSIDE)] == []
        status = await h.query(TicketWorkflow.status)
        assert status.sla_state == "breached" and status.owner == "lola"  # decided as if live

        # Live: the inbox taken out of the settings. The next ladder step (11:00) pages Jonathan.
        scope.inboxes.clear()
        await ts_env.sleep(timedelta(minutes=30))
        await eventually(lambda: h.query(TicketWorkflow.status), lambda s: s.shadow is None)
        pages = await eventually(lambda: sent(rec, "pagerduty.trigger"), lambda ps: bool(ps))
        assert pages[0].target == "jonathan"
        live = await events(pg_pool, h.id, "ticket.live")
        assert len(live) == 1 and "shadow mode ended" in live[0]["details"]
        status = await h.query(TicketWorkflow.status)
        assert status.live_at is not None and status.live_at <= TUESDAY_10 + timedelta(minutes=61)
        # Lola's page was never sent: nothing resolves it in PagerDuty when the ticket closes.
        await h.execute_update(TicketWorkflow.resolve, Resolved(by="alicia", resolution="done"))
        resolves = await eventually(lambda: sent(rec, "pagerduty.resolve"), lambda rs: bool(rs))
        assert {e.target for e in resolves} == {"jonathan"}
        await eventually(
            lambda: pg_pool.fetchval(
                "SELECT count(*) FROM ticket_inputs WHERE workflow_id = $1 AND kind = 'resolved'",
                h.id,
            ),
            lambda c: c == 1,
        )

    # What-if over the shadow ticket: its recorded inputs (going live included) replay as it
    # ran, and its withheld page counts as the page it would have been.
    pack = load_policy("vip-concierge", POLICIES_DIR)
    w = await whatif_dsn(
        postgres_dsn,
        pack,
        TUESDAY_10 - timedelta(days=1),
        TUESDAY_10 + timedelta(days=1),
        inboxes=[inbox],
    )
    assert w.replayed == 1 and w.differences == [], w.differences
    assert w.current.pages == {"lola": 1, "jonathan": 1} == w.draft.pages
    assert w.current.withheld >= 2 and w.changes == []


async def sent(rec: Recorder, action: str) -> list:
    return rec.of(action)
