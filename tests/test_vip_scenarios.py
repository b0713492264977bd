"""The VIP concierge SOP, point by point, each through a
scenario file under tests/scenarios/ run by `ticketflow simulate`'s runner
on the time-skipping server, with a real Postgres."""

from __future__ import annotations

from datetime import datetime

import pytest

from dryrun.simulate import SimulationResult
from engine.policy_loader import load_policy
from tests.helpers import CT, POLICIES_DIR, simulate


def ct(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> str:
    return datetime(year, month, day, hour, minute, tzinfo=CT).isoformat()


def at(result: SimulationResult, action: str, when: str) -> list[dict]:
    return [x for x in result.actions(action) if x["at"] == when]


async def test_1_alicia_owns_auto_ack_and_her_reply_acknowledges(ts_env, pg_pool):
    r = await simulate("vip_1_alicia_acknowledges", ts_env, pg_pool)
    [assign] = r.actions("chatwoot.assign")
    assert (
        assign["target"] == "alicia"
        and assign["agent_id"] == 1
        and assign["at"] == ct(2026, 11, 17, 10)
    )
    [ack] = r.actions("chatwoot.message")
    assert ack["at"] == ct(2026, 11, 17, 10) and ack["content"].startswith(
        "Hi Dana, thanks for reaching out"
    )
    assert ack["content"].endswith("— Alicia")
    acked = [x for x in r.actions("chatwoot.labels") if "vip_acked" in x["add"]]
    assert [x["at"] for x in acked] == [ct(2026, 11, 17, 10, 20)]
    assert not [x for x in r.lines() if x["action"].startswith("pagerduty.")]
    assert r.status.owner == "alicia" and r.status.stage == "acknowledged"


async def test_2_unacknowledged_pages_lola_who_acknowledges(ts_env, pg_pool):
    r = await simulate("vip_2_lola_paged_and_acknowledges", ts_env, pg_pool)
    [page] = r.actions("pagerduty.trigger")
    assert page["target"] == "lola" and page["at"] == ct(2026, 11, 17, 10, 30)
    assert (
        page["dedup_key"] == f"{r.workflow_id}:clock:first_ack:0:0"
    )  # stable per ticket and ladder step
    assert page["routing_key_name"] == "lola"
    assert at(r, "chatwoot.assign", ct(2026, 11, 17, 10, 30))[0]["target"] == "lola"
    assert at(r, "chatwoot.note", ct(2026, 11, 17, 10, 30))
    [resolve] = r.actions("pagerduty.resolve")
    assert resolve["dedup_key"] == page["dedup_key"] and resolve["at"] == ct(2026, 11, 17, 10, 40)
    assert r.status.owner == "lola"
    assert all(p.status == "resolved" for p in r.status.pages)


async def test_2b_nobody_acknowledges_jonathan_is_paged_at_eleven(ts_env, pg_pool):
    r = await simulate("vip_2b_nobody_acknowledges_jonathan_paged", ts_env, pg_pool)
    pages = [(x["target"], x["at"]) for x in r.actions("pagerduty.trigger")]
    assert pages == [("lola", ct(2026, 11, 17, 10, 30)), ("jonathan", ct(2026, 11, 17, 11))]
    assert not r.actions("pagerduty.resolve")


@pytest.mark.parametrize(
    "name",
    ["vip_3_after_cutoff_lola_owns", "vip_3b_saturday_lola_owns", "vip_3c_holiday_lola_owns"],
)
async def test_3_outside_alicias_intake_lola_owns_from_the_start(ts_env, pg_pool, name):
    r = await simulate(name, ts_env, pg_pool)
    [opened] = r.actions("ticket.opened")
    assert opened["target"] == "lola"
    assert [x["target"] for x in r.actions("chatwoot.assign")] == ["lola"]
    assert r.actions("chatwoot.message")[0]["content"].endswith("— Laura")
    assert not r.actions("pagerduty.trigger")


async def test_4_refund_over_200_hands_off_to_alliyson_and_escalates_when_unanswered(
    ts_env, pg_pool
):
    r = await simulate("vip_4_refund_over_200_escalation", ts_env, pg_pool)
    [started] = r.actions("handoff.started")
    assert started["target"] == "alliyson" and started["at"] == ct(2026, 11, 17, 11)
    payload = started["payload"]
    assert payload["over_authority_reason"] == "refund_over_200" and payload["vip_flag"] is True
    assert (
        payload["chatwoot_conv_id"] == 107 and payload["customer_emotional_state"] == "frustrated"
    )
    assert payload["customer_id"]  # a uuid, derived when Chatwoot carries none
    assert any("vip_escalated:alliyson" in x["add"] for x in r.actions("chatwoot.labels"))
    continuity = at(r, "chatwoot.message", ct(2026, 11, 17, 11))
    assert continuity and "I'm bringing in Alliyson" in continuity[0]["content"]
    assert "alliyson" not in [
        x["target"] for x in r.actions("chatwoot.assign")
    ]  # Alicia stays on the thread
    assert r.status.owner == "alicia"
    pages = [(x["target"], x["at"]) for x in r.actions("pagerduty.trigger")]
    assert pages == [("lola", ct(2026, 11, 17, 11, 30)), ("jonathan", ct(2026, 11, 17, 12))]
    assert r.actions("handoff.failed")[0]["at"] == ct(2026, 11, 17, 11, 30)


async def test_5_founder_pull_due_in_four_business_hours_then_lola_handles(ts_env, pg_pool):
    r = await simulate("vip_5_founder_pull_times_out", ts_env, pg_pool)
    [started] = r.actions("handoff.started")
    assert started["at"] == ct(2026, 11, 20, 15)
    deadline = datetime.fromisoformat(started["deadline"]).replace(microsecond=0)
    assert deadline == datetime(2026, 11, 23, 11, tzinfo=CT)  # Monday 11:00
    monday = ct(2026, 11, 23, 11)
    assert r.actions("handoff.failed")[0]["at"] == monday
    assert [x["target"] for x in at(r, "chatwoot.assign", monday)] == ["lola"]
    assert at(r, "chatwoot.note", monday)
    outcomes = await pg_pool.fetch(
        "SELECT outcome, at_time FROM founder_pull_audit WHERE workflow_id = $1 ORDER BY at_time",
        r.workflow_id,
    )
    assert [o["outcome"] for o in outcomes] == ["requested", "timed_out"]
    assert outcomes[1]["at_time"].replace(microsecond=0) == datetime(2026, 11, 23, 11, tzinfo=CT)
    assert r.status.owner == "lola"


async def test_6_every_audited_action_lands_in_postgres(ts_env, pg_pool):
    r = await simulate("vip_6_audit_trail", ts_env, pg_pool)
    wid = r.workflow_id
    flags = await pg_pool.fetch(
        "SELECT vip, by_agent, why FROM vip_flag_change_audit WHERE workflow_id = $1", wid
    )
    assert [(f["vip"], f["by_agent"]) for f in flags] == [(True, "lola")]
    escalations = await pg_pool.fetch(
        "SELECT to_target, reason, vip FROM support_escalations WHERE workflow_id = $1 "
        "ORDER BY at_time",
        wid,
    )
    assert [(e["to_target"], e["reason"]) for e in escalations] == [
        ("jonathan", "retention_high_value"),
        ("alliyson", "refund_over_200"),
    ]
    actions = await pg_pool.fetch(
        "SELECT action_type, customer_id, by_agent FROM vip_concierge_action "
        "WHERE chatwoot_conv_id = 109 AND idempotency_key LIKE $1 ORDER BY at_time, action_type",
        wid + ":%",
    )
    assert sorted(a["action_type"] for a in actions) == ["escalate", "escalate", "founder_pull"]
    assert all(a["customer_id"] is not None and a["by_agent"] == "alicia" for a in actions)
    pulls = await pg_pool.fetch(
        "SELECT outcome, decision, founder_action FROM founder_pull_audit "
        "WHERE workflow_id = $1 ORDER BY at_time",
        wid,
    )
    assert [(p["outcome"], p["decision"]) for p in pulls] == [
        ("requested", None),
        ("decided", "engage"),
    ]
    assert r.status.stage == "closed"
    events = await pg_pool.fetch("SELECT action FROM ticket_events WHERE workflow_id = $1", wid)
    assert {
        "ticket.opened",
        "handoff.started",
        "handoff.completed",
        "ticket.resolved",
        "ticket.closed",
    } <= {e["action"] for e in events}


async def test_7_every_sla_of_the_table_runs_as_a_clock_and_breaches(ts_env, pg_pool):
    r = await simulate("vip_7_sla_table", ts_env, pg_pool)
    breaches = {x["clock"]: x["at"] for x in r.actions("sla.breached")}
    assert breaches == {
        "first_ack": ct(2026, 11, 17, 9, 30),
        "first_response": ct(2026, 11, 17, 10),
        "resolution": ct(2026, 11, 17, 13),
    }
    failed = {x["handoff_id"].split(":")[-2]: x["at"] for x in r.actions("handoff.failed")}
    assert failed == {
        "over_authority": ct(2026, 11, 17, 15),
        "founder_pull": ct(2026, 11, 18, 11, 10),
    }
    # each breach acted: pages, notes, reassignment
    assert at(r, "pagerduty.trigger", ct(2026, 11, 17, 9, 30)) and at(
        r, "chatwoot.note", ct(2026, 11, 17, 10)
    )
    assert at(r, "pagerduty.trigger", ct(2026, 11, 17, 13)) and at(
        r, "pagerduty.trigger", ct(2026, 11, 17, 15)
    )
    assert at(r, "chatwoot.assign", ct(2026, 11, 18, 11, 10))


def test_7_the_pack_encodes_the_sop_sla_table():
    p = load_policy("vip-concierge", POLICIES_DIR)
    c = p.clocks
    assert (c["first_ack"].duration.total_seconds(), c["first_ack"].calendar) == (1800, None)
    assert (c["first_response"].duration.total_seconds(), c["first_response"].calendar) == (
        3600,
        None,
    )
    assert (c["resolution"].duration.total_seconds(), c["resolution"].calendar) == (
        4 * 3600,
        "business",
    )
    assert (
        p.handoffs["over_authority"].timeout.total_seconds(),
        p.handoffs["over_authority"].calendar,
    ) == (1800, None)
    assert (
        p.handoffs["founder_pull"].timeout.total_seconds(),
        p.handoffs["founder_pull"].calendar,
    ) == (4 * 3600, "business")
    for clock in c.values():
        assert clock.on_breach, clock.title
    for h in p.handoffs.values():
        assert h.on_failure, h.title
