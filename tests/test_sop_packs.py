"""The ops-ladder, lifecycle and tier-escalation packs, rule by rule, each
through a scenario under tests/scenarios/ run by `ticketflow simulate`'s
runner on the time-skipping server with a real Postgres."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo

from dryrun.report import escalation_metrics
from dryrun.scenario import load_scenario
from dryrun.simulate import run_scenario, sent_line
from engine.policy_loader import load_policy
from models.timezones import zone
from tests.helpers import POLICIES_DIR, simulate

LA, LON, NY = zone("America/Los_Angeles"), zone("Europe/London"), zone("America/New_York")


def t(tz: tzinfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> str:
    return datetime(year, month, day, hour, minute, tzinfo=tz).isoformat()


def levels(r) -> list[tuple[int, str]]:
    return [(x["level"], x["at"]) for x in r.actions("ticket.level")]


# ---------------------------------------------------------------- ops-ladder


async def test_ops_no_severity_is_s3_with_a_30_minute_response_sla(ts_env, pg_pool):
    r = await simulate("ops_1_s3_default_response_sla", ts_env, pg_pool)
    assert r.status.facts["severity"] == "s3"
    assert [(x["clock"], x["at"]) for x in r.actions("sla.breached")] == [
        ("response", t(LA, 2026, 11, 17, 10, 30))
    ]
    assert not levels(r) and not r.actions("pagerduty.trigger")


async def test_ops_s2_level1_at_30_minutes_level2_at_60_with_decision_log(ts_env, pg_pool):
    r = await simulate("ops_2_s2_climbs_to_lead_then_manager", ts_env, pg_pool)
    assert levels(r) == [(1, t(LA, 2026, 11, 17, 10, 30)), (2, t(LA, 2026, 11, 17, 11))]
    # SOP Level 1: "post summary + evidence in #support-hotdash (Slack)", not a Chatwoot note.
    [post] = r.actions("slack.post")
    assert (post["target"], post["to"], post["at"]) == (
        "support_hotdash",
        "C0HOTDASH1",
        t(LA, 2026, 11, 17, 10, 30),
    )
    assert "Summary:" in post["text"] and "Evidence" in post["text"]
    assert not [x for x in r.actions("chatwoot.note") if x["target"] == "support_lead"]
    assert "pages 1" in sent_line(r) and "Slack posts 1" in sent_line(r)  # simulate's count
    assert [(x["target"], x["at"]) for x in r.actions("pagerduty.trigger")] == [
        ("manager", t(LA, 2026, 11, 17, 11))
    ]
    rows = await pg_pool.fetch(
        "SELECT severity, level, actions_taken, next_action, at_time FROM decision_log "
        "WHERE workflow_id = $1 ORDER BY at_time",
        r.workflow_id,
    )
    assert [(x["severity"], x["level"]) for x in rows] == [("s2", 1), ("s2", 2)]
    assert all(x["actions_taken"] and x["next_action"] for x in rows)


async def test_ops_s2_sla_breach_approaching_pages_the_manager(ts_env, pg_pool):
    r = await simulate("ops_2b_s2_sla_breach_approaching", ts_env, pg_pool)
    assert levels(r)[0] == (2, t(LA, 2026, 11, 17, 10, 25))
    assert r.actions("pagerduty.trigger")[0]["target"] == "manager"


async def test_ops_s1_goes_to_level3_at_once_with_a_customer_update_due_in_30m(ts_env, pg_pool):
    r = await simulate("ops_3_s1_level3_and_customer_update", ts_env, pg_pool)
    assert levels(r) == [(3, t(LA, 2026, 11, 18, 10))]
    pages = [(x["target"], x["at"]) for x in r.actions("pagerduty.trigger")]
    assert pages[0] == ("oncall_engineering", t(LA, 2026, 11, 18, 10))
    assert ("s1_customer_update", t(LA, 2026, 11, 18, 10, 30)) in [
        (x["clock"], x["at"]) for x in r.actions("sla.breached")
    ]


async def test_ops_s0_goes_to_level4_at_once(ts_env, pg_pool):
    r = await simulate("ops_4_s0_level4", ts_env, pg_pool)
    assert levels(r) == [(4, t(LA, 2026, 11, 19, 10))]
    assert {x["target"] for x in r.actions("pagerduty.trigger")} == {
        "manager",
        "oncall_engineering",
    }  # the SOP: Manager + On-call DevOps


async def test_ops_repeated_level3_within_24h_across_tickets_goes_to_level4(ts_env, pg_pool):
    first = await simulate("ops_5a_first_level3", ts_env, pg_pool)
    assert [lvl for lvl, _ in levels(first)] == [3]  # no earlier level 3 in the window
    second = await simulate("ops_5b_repeated_level3", ts_env, pg_pool)
    assert [lvl for lvl, _ in levels(second)] == [3, 4]
    assert second.status.level == 4 and second.status.facts["recent_level_3_count"] == 1
    assert "executive" in [x["target"] for x in second.actions("pagerduty.trigger")]


# ----------------------------------------------------------------- lifecycle


async def test_life_ticket_id_acknowledgement_routing_and_in_progress(ts_env, pg_pool):
    r = await simulate("life_1_billing_routed_and_acknowledged", ts_env, pg_pool)
    short = r.status.short_id
    assert re.fullmatch(r"[0-9A-F]{8}", short), short  # hex, upper case; may be all digits
    [ack] = r.actions("chatwoot.message")
    assert f"(Ticket #{short})" in ack["content"] and "within 12 hours" in ack["content"]
    assert r.actions("chatwoot.assign")[0]["target"] == "billing_specialist"
    assert r.status.facts["priority"] == "high" and r.status.stage == "in_progress"
    assert {"ticket_status": "in_progress", "ticket_id": short} in [
        x["set"] for x in r.actions("chatwoot.attributes")
    ]
    assert not r.actions("sla.breached")  # answered in 2h, inside the 12h SLA


async def test_life_safety_is_urgent_pages_the_safety_team_and_sends_the_safety_response(
    ts_env, pg_pool
):
    r = await simulate("life_2_safety_urgent", ts_env, pg_pool)
    pages = [(x["target"], x["at"]) for x in r.actions("pagerduty.trigger")]
    assert pages[0] == ("safety_team", t(LON, 2026, 11, 17, 10))
    [msg] = r.actions("chatwoot.message")  # the safety response, not the generic acknowledgement
    assert "safety concern" in msg["content"] and "999 (UK)" in msg["content"]
    assert [(x["clock"], x["at"]) for x in r.actions("sla.breached")] == [
        ("response_urgent", t(LON, 2026, 11, 17, 14))
    ]


async def test_life_triage_within_one_hour(ts_env, pg_pool):
    r = await simulate("life_3_triage_overdue_then_routed", ts_env, pg_pool)
    assert [(x["clock"], x["at"]) for x in r.actions("sla.breached")] == [
        ("triage", t(LON, 2026, 11, 17, 11))
    ]
    assert r.actions("pagerduty.trigger")[0]["target"] == "supervisor"
    assert r.actions("chatwoot.assign")[0]["target"] == "technical_support"
    assert r.actions("pagerduty.resolve")  # triaged: the supervisor's page is resolved
    assert r.status.stage == "in_progress"


async def test_life_first_response_sla_by_priority(ts_env, pg_pool):
    r = await simulate("life_4_normal_priority_24h", ts_env, pg_pool)
    assert [(x["clock"], x["at"]) for x in r.actions("sla.breached")] == [
        ("response_normal", t(LON, 2026, 11, 18, 10))
    ]
    p = load_policy("lifecycle", POLICIES_DIR)
    durations = {
        c.when.get("priority"): c.duration for c in p.clocks.values() if "priority" in c.when
    }
    assert durations == {
        "urgent": timedelta(hours=4),
        "high": timedelta(hours=12),
        "normal": timedelta(hours=24),
        "low": timedelta(hours=48),
    }
    routes = {
        v: p.classification["category"].values[v].facts["priority"]
        for v in p.classification["category"].values
    }
    assert routes == {
        "safety": "urgent",
        "technical": "high",
        "billing": "high",
        "general": "normal",
        "feedback": "low",
    }


async def test_life_refund_over_100_goes_to_the_supervisor(ts_env, pg_pool):
    r = await simulate("life_5_refund_over_100_supervisor", ts_env, pg_pool)
    [started] = r.actions("handoff.started")
    assert started["target"] == "supervisor" and started["payload"]["amount_gbp"] == 140
    assert started["payload"]["ticket_id"] == r.status.short_id
    notice = [m for m in r.actions("chatwoot.message") if "escalated your issue" in m["content"]]
    assert (
        notice
        and "within 12 hours" in notice[0]["content"]
        and f"#{r.status.short_id}" in notice[0]["content"]
    )
    assert {"ticket_status": "escalated", "ticket_id": r.status.short_id} in [
        x["set"] for x in r.actions("chatwoot.attributes")
    ]
    assert r.actions("handoff.completed")[0]["decision"] == "approve"


async def test_life_customer_reply_in_verification_reopens(ts_env, pg_pool):
    r = await simulate("life_6_reply_in_verification_reopens", ts_env, pg_pool)
    assert [x["at"] for x in r.actions("ticket.reopened")] == [t(LON, 2026, 11, 18, 6)]
    assert r.status.stage == "open" and not r.actions("ticket.closed")
    assert [x["status"] for x in r.actions("chatwoot.status")] == ["open"]


async def test_life_auto_close_after_48h_without_reply(ts_env, pg_pool):
    r = await simulate("life_7_auto_close_after_48h", ts_env, pg_pool)
    assert [x["at"] for x in r.actions("ticket.closed")] == [t(LON, 2026, 11, 19, 12)]
    assert r.status.stage == "closed"
    assert [x["set"]["ticket_status"] for x in r.actions("chatwoot.attributes")] == [
        "in_progress",
        "resolved",
        "closed",
    ]


# ----------------------------------------------------------- tier-escalation


async def test_tier_critical_pages_oncall_and_management_at_once(ts_env, pg_pool):
    r = await simulate("tier_1_critical", ts_env, pg_pool)
    at_open = [
        x["target"] for x in r.actions("pagerduty.trigger") if x["at"] == t(NY, 2026, 11, 17, 10)
    ]
    assert at_open == ["oncall_engineering", "roy"]
    assert [(x["clock"], x["at"]) for x in r.actions("sla.breached")] == [
        ("response_critical", t(NY, 2026, 11, 17, 10, 15))
    ]


async def test_tier_urgency_slas_are_the_sops():
    p = load_policy("tier-escalation", POLICIES_DIR)
    durations = {c.when["urgency"]: c.duration for c in p.clocks.values() if "urgency" in c.when}
    assert durations == {
        "critical": timedelta(minutes=15),
        "high": timedelta(minutes=30),
        "medium": timedelta(hours=2),
        "low": timedelta(hours=24),
    }


async def test_tier1_to_tier2_with_the_template_then_the_follow_up_cadence(ts_env, pg_pool):
    r = await simulate("tier_2_tier1_to_tier2_and_cadence", ts_env, pg_pool)
    [started] = r.actions("handoff.started")
    assert started["target"] == "tier2" and started["at"] == t(NY, 2026, 11, 17, 10, 30)
    assert set(started["payload"]) >= {
        "ticket_id",
        "customer_email",
        "issue",
        "attempted",
        "impact",
        "urgency",
    }
    assert (
        started["payload"]["customer_email"] == "kim@example.com"
        and started["payload"]["urgency"] == "medium"
    )
    checks = [x["at"] for x in r.actions("sla.breached") if x["clock"] == "status_check"]
    assert checks[:3] == [
        t(NY, 2026, 11, 17, 14, 30),
        t(NY, 2026, 11, 17, 18, 30),
        t(NY, 2026, 11, 17, 22, 30),
    ]
    updates = [x["at"] for x in r.actions("sla.breached") if x["clock"] == "customer_update"]
    assert updates == [t(NY, 2026, 11, 18, 10, 30)]
    thanks = [
        n
        for n in r.actions("chatwoot.note")
        if n["content"].startswith("Resolved. Thank you, Senior support")
    ]
    assert thanks and thanks[0]["at"] == t(NY, 2026, 11, 18, 12)


async def test_tier2_to_engineering_in_hours_and_on_call_after_hours(ts_env, pg_pool):
    day = await simulate("tier_3_engineering_business_hours", ts_env, pg_pool)
    assert [x["target"] for x in day.actions("chatwoot.assign")] == ["engineering"]
    assert not [p for p in day.actions("pagerduty.trigger") if p["target"] == "oncall_engineering"]
    night = await simulate("tier_3b_engineering_after_hours", ts_env, pg_pool)
    assert [p["target"] for p in night.actions("pagerduty.trigger")] == ["oncall_engineering"]
    assert not night.actions("chatwoot.assign")


async def test_tier_legal_goes_to_management_and_is_silent(ts_env, pg_pool):
    r = await simulate("tier_4_legal_is_silent", ts_env, pg_pool)
    assert not r.actions("chatwoot.message")  # not one customer-facing message
    assert len(r.actions("message.suppressed")) >= 2
    assert "Escalated to Legal" in [n["content"] for n in r.actions("chatwoot.note")]
    assert "roy" in [x["target"] for x in r.actions("handoff.started")]


async def test_tier_fraud_classified_later_is_silent_from_then_on(ts_env, pg_pool):
    r = await simulate("tier_4b_media_and_fraud_classified_later", ts_env, pg_pool)
    messages = r.actions("chatwoot.message")
    assert [m["at"] for m in messages] == [
        t(NY, 2026, 11, 17, 10)
    ]  # the acknowledgement, before we knew
    assert r.actions("message.suppressed") and r.actions("handoff.started")[0]["target"] == "roy"
    assert not [
        x for x in r.actions("sla.breached") if x["clock"] == "customer_update"
    ]  # silent: no update clock


async def test_silence_is_a_policy_level_guarantee():
    """Every `message` step of the pack, on a silent ticket, is suppressed."""
    from engine.core import TicketEngine
    from models.ticket import Contact, Ticket

    p = load_policy("tier-escalation", POLICIES_DIR)
    for issue in ("security", "legal", "fraud"):
        e = TicketEngine.new(
            p,
            Ticket(
                account_id=1,
                conversation_id=9,
                policy=p.name,
                labels=[f"issue:{issue}"],
                contact=Contact(name="Kim"),
            ),
            "ticket-1-9",
        )
        now = datetime(2026, 11, 17, 15, tzinfo=NY)
        actions = e.open(now)
        actions += e.escalate("tier2", None, "api_failure", {}, now)
        actions += e.advance(now + timedelta(days=3))
        actions += e.resolve("roy", "done", now + timedelta(days=3))
        assert not [a for a in actions if a.kind == "chatwoot.message"], issue
        assert [a for a in actions if a.kind == "message.suppressed"], issue


# ----------------------------------------------------------------- report


async def test_report_escalation_rate_and_time_to_resolve(ts_env, pg_pool, tmp_path):
    common = (
        "policy: tier-escalation\n"
        "ticket: {conversation_id: %d, contact: {name: Kim, email: k@example.com}, "
        'labels: ["urgency:%s"]}\n'
    )
    (tmp_path / "quick.yaml").write_text(
        common % (601, "low")
        + """start: 2027-03-02T10:00:00-05:00
events:
  - {at: +10m, signal: resolved, by: tier1}
until: +1h
"""
    )
    (tmp_path / "escalated.yaml").write_text(
        common % (602, "medium")
        + """start: 2027-03-02T11:00:00-05:00
events:
  - {at: +2h, signal: resolved, by: tier2}
until: +3h
"""
    )
    for name in ("quick", "escalated"):
        scenario = load_scenario(tmp_path / f"{name}.yaml", lambda p: load_policy(p, POLICIES_DIR))
        await run_scenario(scenario, ts_env, pg_pool, POLICIES_DIR)
    [m] = await escalation_metrics(
        pg_pool, datetime(2027, 3, 1, tzinfo=NY), datetime(2027, 3, 5, tzinfo=NY), "tier-escalation"
    )
    assert (m.opened, m.escalated, m.resolved_after_escalation) == (2, 1, 1)
    assert m.escalation_rate == 0.5
    # escalated at 11:30, resolved at 13:00 (plus the simulator's sub-second event delivery)
    assert abs(m.avg_resolve_after_escalation - timedelta(hours=1, minutes=30)) < timedelta(
        seconds=1
    )
