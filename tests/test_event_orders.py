"""Every SOP under the event orders real agents produce: facts that
change after the first reply, "at once" rules whose condition becomes true
later, handoffs that notify their target, silent tickets, times across DST,
and tickets started long after their conversation. Each point is a scenario
under tests/scenarios/ (run on the time-skipping server with a real
Postgres) and, for the classification rule, a hypothesis property over the
pure decision core of every pack whose SLA target depends on a fact."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.core import TicketEngine
from engine.policy_loader import load_policy
from models.ticket import Contact, Ticket
from models.timezones import zone
from tests.helpers import POLICIES_DIR, simulate

LA, LON, NY = zone("America/Los_Angeles"), zone("Europe/London"), zone("America/New_York")


def t(tz: tzinfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> str:
    return datetime(year, month, day, hour, minute, tzinfo=tz).isoformat()


def response_breaches(r) -> list[dict]:
    return [
        x
        for x in r.actions("sla.breached")
        if x["clock"].startswith(("response", "s2_sla_warning"))
    ]


# ------------------------------------------ 1. a classification never restarts a stopped clock


async def test_tier_urgency_after_the_reply_does_not_breach_the_response_sla(ts_env, pg_pool):
    r = await simulate("tier_5_urgency_set_after_reply", ts_env, pg_pool)
    assert r.status.facts["urgency"] == "high"
    assert not response_breaches(r)
    assert not [p for p in r.actions("pagerduty.trigger") if "Response SLA" in p["summary"]]
    assert not [n for n in r.actions("chatwoot.note") if "no response within" in n["content"]]


async def test_ops_severity_after_the_reply_pages_nobody(ts_env, pg_pool):
    r = await simulate("ops_6_severity_set_after_reply", ts_env, pg_pool)
    assert r.status.facts["severity"] == "s2"
    assert not response_breaches(r)
    assert not r.actions(
        "pagerduty.trigger"
    )  # neither "about to breach" nor level 2: resolved at +50m
    # S2 unresolved at 30 minutes is a real level 1 (the SOP's time trigger), not a false page
    assert [x["level"] for x in r.actions("ticket.level")] == [1]


async def test_lifecycle_category_after_the_reply_does_not_breach_24h_later(ts_env, pg_pool):
    r = await simulate("life_8_category_after_reply", ts_env, pg_pool)
    assert r.status.facts["priority"] == "normal"
    assert not r.actions("sla.breached") and not r.actions("pagerduty.trigger")


# -------------------------------- 2. "at once" rules fire when their condition becomes true


async def test_tier_raised_to_critical_pages_on_call_and_management_at_once(ts_env, pg_pool):
    r = await simulate("tier_6_raised_to_critical", ts_env, pg_pool)
    pages = sorted((p["target"], p["at"]) for p in r.actions("pagerduty.trigger"))
    assert pages == [
        ("oncall_engineering", t(NY, 2026, 11, 17, 10, 10)),
        ("roy", t(NY, 2026, 11, 17, 10, 10)),
    ]
    assert [n for n in r.actions("chatwoot.note") if n["content"].startswith("CRITICAL")]


async def test_lifecycle_triaged_as_safety_pages_the_safety_team_and_answers(ts_env, pg_pool):
    r = await simulate("life_9_safety_triaged_later", ts_env, pg_pool)
    assert [(p["target"], p["at"]) for p in r.actions("pagerduty.trigger")] == [
        ("safety_team", t(LON, 2026, 11, 17, 10, 20))
    ]
    safety = [m for m in r.actions("chatwoot.message") if "safety concern" in m["content"]]
    assert [m["at"] for m in safety] == [t(LON, 2026, 11, 17, 10, 20)]
    assert r.actions("chatwoot.assign")[-1]["target"] == "safety_team"


async def test_at_once_rules_run_once_per_ticket():
    """Reclassifying critical -> high -> critical pages on-call once."""
    p = load_policy("tier-escalation", POLICIES_DIR)
    e = TicketEngine.new(
        p,
        Ticket(account_id=1, conversation_id=1, policy=p.name, contact=Contact(name="Kim")),
        "ticket-1-1",
    )
    t0 = datetime(2026, 11, 17, 10, tzinfo=NY)
    actions = e.open(t0)
    for i, urgency in enumerate(["critical", "high", "critical", "critical"], start=1):
        actions += e.classify(None, None, {"urgency": urgency}, t0 + timedelta(minutes=i))
    oncall = [
        a for a in actions if a.kind == "pagerduty.trigger" and a.target == "oncall_engineering"
    ]
    assert len(oncall) == 1


# ------------------------------------------ 3. S0 pages who the SOP names


async def test_ops_s0_pages_the_manager_and_on_call_devops(ts_env, pg_pool):
    r = await simulate("ops_4_s0_level4", ts_env, pg_pool)
    assert sorted(p["target"] for p in r.actions("pagerduty.trigger")) == [
        "manager",
        "oncall_engineering",
    ]


# ------------------------------------------ 4. starting a handoff notifies its target


async def test_tier2_handoff_assigns_labels_and_briefs_at_start(ts_env, pg_pool):
    r = await simulate("tier_7_handoff_notifies_its_target", ts_env, pg_pool)
    start = t(NY, 2026, 11, 17, 10, 10)
    assert [(x["target"], x["at"]) for x in r.actions("handoff.started")] == [("tier2", start)]
    assert ("tier2", start) in [(x["target"], x["at"]) for x in r.actions("chatwoot.assign")]
    assert {"add": ["escalated:tier2"]} in [
        {"add": x.get("add")} for x in r.actions("chatwoot.labels")
    ]
    [brief] = [n for n in r.actions("chatwoot.note") if n["content"].startswith("ESCALATION:")]
    assert brief["at"] == start and brief["target"] == "tier2"
    assert (
        "Attempted: Reset the password twice" in brief["content"]
        and "Impact: One user locked out" in brief["content"]
        and "Customer email: kim@example.com" in brief["content"]
    )
    assert "30 minutes" in brief["content"] and "Tier 1 support" in brief["content"]
    assert not r.actions("pagerduty.trigger")  # not critical: no phone call (the SOP)
    assert r.status.owner == "tier2"


async def test_vip_handoff_briefs_the_expert_at_start(ts_env, pg_pool):
    r = await simulate("vip_4_refund_over_200_escalation", ts_env, pg_pool)
    [started] = r.actions("handoff.started")
    briefs = [n for n in r.actions("chatwoot.note") if n["content"].startswith("HANDOFF")]
    assert [(n["target"], n["at"]) for n in briefs] == [("alliyson", started["at"])]
    assert (
        "Customer emotional state:" in briefs[0]["content"]
        and "Issue summary:" in briefs[0]["content"]
    )


# ------------------------------------------ 5. silent tickets stay silent and are not nagged


async def test_silent_ticket_gets_no_customer_sla_but_management_pickup_runs(ts_env, pg_pool):
    r = await simulate("tier_8_silent_ticket_not_nagged", ts_env, pg_pool)
    assert not r.actions("chatwoot.message")
    assert not response_breaches(r)
    assert not [x for x in r.actions("sla.breached") if x["clock"] == "customer_update"]
    assert not [
        n
        for n in r.actions("chatwoot.note")
        if "no response within" in n["content"] or "Customer update due" in n["content"]
    ]
    pages = [(p["target"], p["at"]) for p in r.actions("pagerduty.trigger")]
    assert pages == [("roy", t(NY, 2026, 11, 17, 11))]  # management did not pick up within 1 hour
    assert not [p for p in pages if p[0] == "tier2"]


async def test_a_ticket_turning_silent_stops_its_customer_clocks():
    p = load_policy("tier-escalation", POLICIES_DIR)
    e = TicketEngine.new(
        p,
        Ticket(account_id=1, conversation_id=2, policy=p.name, contact=Contact(name="Kim")),
        "ticket-1-2",
    )
    t0 = datetime(2026, 11, 17, 10, tzinfo=NY)
    e.open(t0)
    assert e.state.clocks["response_medium"].status == "running"
    e.classify(None, ["issue:fraud"], None, t0 + timedelta(minutes=10))
    assert e.state.clocks["response_medium"].status == "waiting"
    actions = e.advance(t0 + timedelta(days=2))
    assert not [
        a for a in actions if a.kind == "sla.breached" and a.params["clock"].startswith("response")
    ]


# ------------------------------------------ 6. times read right

ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2})")


def _instants(value) -> list[str]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _instants(v)]
    if isinstance(value, list):
        return [x for v in value for x in _instants(v)]
    return (
        ISO.findall(value) and [m.group(0) for m in ISO.finditer(value)]
        if isinstance(value, str)
        else []
    )


def _assert_local(r, tz) -> None:
    for line in r.lines():
        for text in _instants(line):
            instant = datetime.fromisoformat(text)
            assert instant.utcoffset() == instant.astimezone(tz).utcoffset(), (line["action"], text)


async def test_times_after_the_us_dst_change_read_in_daylight_time(ts_env, pg_pool):
    r = await simulate("ops_7_times_across_dst", ts_env, pg_pool)
    [breach] = [x for x in r.actions("sla.breached") if x["clock"] == "response"]
    assert (
        breach["at"] == "2026-03-08T03:20:00-07:00"
        and breach["deadline"] == "2026-03-08T03:20:00-07:00"
    )
    _assert_local(r, LA)


async def test_times_and_durations_across_the_uk_change(ts_env, pg_pool):
    r = await simulate("life_10_durations_and_times", ts_env, pg_pool)
    [breach] = [x for x in r.actions("sla.breached") if x["clock"] == "response_low"]
    assert breach["at"] == "2026-03-29T13:00:00+01:00"
    [note] = [n for n in r.actions("chatwoot.note") if "first response not sent" in n["content"]]
    assert "within 48 hours" in note["content"]
    [started] = r.actions("handoff.started")
    assert started["deadline"] == "2026-03-28T01:00:00+00:00"  # 12 hours, still GMT
    notice = [m for m in r.actions("chatwoot.message") if "escalated your issue" in m["content"]]
    assert "within 12 hours" in notice[0]["content"]
    _assert_local(r, LON)
    assert not [
        x for x in r.lines() for v in x.values() if isinstance(v, str) and re.search(r"\b\d+d\b", v)
    ]


def test_ticketflow_show_renders_deadlines_in_the_pack_zone():
    from io import StringIO

    from rich.console import Console

    import starter.operator_cli as cli
    from infra.settings import Settings
    from models.state import ClockState, LadderEntry
    from models.status import TicketStatus

    deadline = datetime.fromisoformat("2026-03-08T10:20:00+00:00")
    s = TicketStatus(
        ticket_id="ticket-1-1",
        policy="ops-ladder",
        stage="open",
        timezone="America/Los_Angeles",
        now=deadline - timedelta(minutes=90),
        clocks=[
            ClockState(
                name="response",
                title="Response SLA 30m",
                status="running",
                started_at=deadline - timedelta(minutes=30),
                deadline=deadline,
            )
        ],
        ladder=[LadderEntry(at=deadline, source="x", action="sla.breached", summary="breached")],
    )
    out = StringIO()
    cli.console, saved = Console(file=out, width=200), cli.console
    try:
        cli.print_status(s, Settings(_env_file=None))
    finally:
        cli.console = saved
    text = out.getvalue()
    assert "03-08 03:20 PDT (UTC-07:00)" in text and "in 1 hour 30 minutes" in text
    assert "02:20" not in text


# ------------------------------------------ 7. tickets that start long after their conversation


async def test_backfill_records_expired_steps_as_missed_and_pages_nobody(ts_env, pg_pool):
    r = await simulate("tier_9_backfill_of_an_old_conversation", ts_env, pg_pool)
    assert not r.actions("pagerduty.trigger")
    # no "thanks for contacting us" months late; the only customer message is about what happens now
    assert [m["at"] for m in r.actions("chatwoot.message")] == [t(NY, 2026, 11, 17, 10)]
    assert "brought in our Senior support" in r.actions("chatwoot.message")[0]["content"]
    missed = r.actions("ladder.missed")
    assert {m["step"] for m in missed if "step" in m} >= {"message", "page", "note"}
    assert "139 days ago" in missed[0]["summary"]
    # state still moves: the ticket went to tier 2 (now), whose pick-up clock runs from now
    [started] = r.actions("handoff.started")
    assert started["at"] == t(NY, 2026, 11, 17, 10)
    rows = await pg_pool.fetch(
        "SELECT action FROM ticket_events WHERE workflow_id = $1 AND action = 'ladder.missed'",
        r.workflow_id,
    )
    assert len(rows) == len(missed)


def test_a_cadence_missed_for_days_is_one_record_not_one_note_a_period():
    p = load_policy("tier-escalation", POLICIES_DIR)
    e = TicketEngine.new(
        p,
        Ticket(account_id=1, conversation_id=4, policy=p.name, contact=Contact(name="Kim")),
        "ticket-1-4",
    )
    t0 = datetime(2026, 11, 17, 10, tzinfo=NY)
    e.open(t0)
    e.escalate("tier1", None, "supervisor_requested", {}, t0 + timedelta(minutes=5))
    actions = e.advance(t0 + timedelta(days=7, minutes=5))  # the worker was down for a week
    checks = [
        a
        for a in actions
        if a.kind == "chatwoot.note" and "Status check due" in a.params["content"]
    ]
    missed = [
        a for a in actions if a.kind == "ladder.missed" and a.params.get("clock") == "status_check"
    ]
    assert len(checks) <= 1 and len(missed) == 1 and missed[0].params["periods"] >= 40
    assert e.state.clocks["status_check"].deadline > t0 + timedelta(
        days=7
    )  # the cadence goes on from now


async def test_a_short_catch_up_still_fires_at_once(ts_env, pg_pool):
    r = await simulate("tier_9b_outage_catch_up", ts_env, pg_pool)
    pages = sorted(p["target"] for p in r.actions("pagerduty.trigger"))
    assert pages == [
        "oncall_engineering",
        "roy",
        "tier2",
    ]  # critical pages + the 15-minute response breach
    assert not r.actions("ladder.missed")
    assert r.actions("chatwoot.message")  # the acknowledgement, 40 minutes late, still goes


# ------------------------------ the property: no false breach from any classification order

PACKS = {  # pack -> (fact the SLA target depends on, its values, the clock-name prefix)
    "tier-escalation": ("urgency", ["critical", "high", "medium", "low"], "response_"),
    "lifecycle": (
        "category",
        ["safety", "technical", "billing", "general", "feedback"],
        "response_",
    ),
    "ops-ladder": ("severity", ["s0", "s1", "s2", "s3"], "s2_sla_warning"),
}
POLICIES = {name: load_policy(name, POLICIES_DIR) for name in PACKS}


def _targets(policy, fact: str, prefix: str) -> dict[str, timedelta]:
    """value -> the duration of the clock that value selects (the SLA target)."""
    out = {}
    dim = policy.classification[fact]
    for value, spec in dim.values.items():
        facts = {**policy.facts, fact: value, **spec.facts}
        for name, clock in policy.clocks.items():
            if name.startswith(prefix) and all(facts.get(k) == v for k, v in clock.when.items()):
                out[value] = clock.duration
    return out


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(pack=st.sampled_from(sorted(PACKS)), data=st.data())
def test_no_breach_after_a_reply_made_in_time(pack, data):
    """For any order of {reply, classify, reclassify}: if the reply came
    before the deadline of the target in force at reply time (and no target
    in force before it had expired), the SLA never breaches and nothing
    pages for it, whatever the classifications after."""
    fact, values, prefix = PACKS[pack]
    policy = POLICIES[pack]
    targets = _targets(policy, fact, prefix)
    dim = policy.classification[fact]
    initial = data.draw(st.sampled_from([None, *values]), label="initial")
    reply_at = data.draw(st.integers(1, 48 * 60), label="reply minute")
    changes = data.draw(
        st.lists(
            st.tuples(
                st.integers(1, 72 * 60),
                st.sampled_from(values),
                st.sampled_from(["label", "attribute"]),
            ),
            max_size=4,
        ),
        label="changes",
    )
    changes = sorted(changes)

    # precondition: every target in force before the reply (even for an instant) had not
    # expired by the time it was replaced or the reply came
    segments = [(0, initial or dim.default)] + [(at, v) for at, v, _ in changes if at < reply_at]
    for i, (_start, value) in enumerate(segments):
        end = segments[i + 1][0] if i + 1 < len(segments) else reply_at
        if value in targets:
            assume(timedelta(minutes=end) < targets[value])

    t0 = datetime(2026, 11, 17, 15, tzinfo=zone("UTC"))
    labels = [f"{dim.label_prefix}{initial}"] if initial else []
    e = TicketEngine.new(
        policy,
        Ticket(
            account_id=1, conversation_id=3, policy=pack, labels=labels, contact=Contact(name="Kim")
        ),
        "ticket-1-3",
    )
    actions = e.open(t0)
    events = [(at, "classify", (v, how)) for at, v, how in changes] + [(reply_at, "reply", None)]
    for at, kind, arg in sorted(events, key=lambda x: (x[0], x[1] == "classify")):
        now = t0 + timedelta(minutes=at)
        actions += e.advance(now)
        if kind == "reply":
            actions += e.agent_replied(e.state.owner or "x", True, now)
        else:
            value, how = arg
            attrs = {dim.attribute: value} if how == "attribute" else None
            actions += e.classify(
                None, [f"{dim.label_prefix}{value}"] if how == "label" else None, attrs, now
            )
    actions += e.advance(t0 + timedelta(days=5))
    clocks = {n for n in policy.clocks if n.startswith(prefix)}
    breaches = [a for a in actions if a.kind == "sla.breached" and a.params["clock"] in clocks]
    assert not breaches, [(a.params["clock"], a.at) for a in breaches]
    pages = [
        a
        for a in actions
        if a.kind == "pagerduty.trigger"
        and a.params["custom_details"]["source"] in {f"clock:{c}" for c in clocks}
    ]
    assert not pages
