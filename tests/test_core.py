"""The decision core, pure: examples and hypothesis properties over random
event sequences on the VIP pack."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.core import Rejected, TicketEngine, short_id
from engine.policy_loader import load_policy
from models.ticket import Contact, Ticket
from models.timezones import zone
from tests.helpers import POLICIES_DIR

CT = zone("America/Chicago")
POLICY = load_policy("vip-concierge", POLICIES_DIR)
T0 = datetime(2026, 11, 17, 10, tzinfo=CT)
PAYLOAD = {"issue_summary": "x", "alicia_already_tried": "y", "customer_emotional_state": "calm"}


def engine(vip=True, **kw) -> TicketEngine:
    ticket = Ticket(
        account_id=1,
        conversation_id=7,
        policy="vip-concierge",
        contact=Contact(name="Dana Whitfield", vip=vip),
        **kw,
    )
    return TicketEngine.new(POLICY, ticket, "ticket-1-7")


def test_deadline_is_absolute_and_does_not_drift():
    e = engine()
    e.open(T0)
    deadline = e.state.clocks["first_ack"].deadline
    for minutes in (5, 10, 20, 29):
        e.customer_replied(T0 + timedelta(minutes=minutes))
        assert e.state.clocks["first_ack"].deadline == deadline == T0 + timedelta(minutes=30)
    assert e.next_wakeup() == deadline


def test_same_event_id_twice_is_ignored():
    e = engine()
    e.open(T0)
    first = e.agent_replied("alicia", True, T0 + timedelta(minutes=1), event_id="message:9")
    assert first
    assert e.agent_replied("alicia", True, T0 + timedelta(minutes=2), event_id="message:9") == []


def test_rejections_are_clear():
    e = engine()
    e.open(T0)
    with pytest.raises(Rejected, match="unknown escalation reason 'bored'"):
        e.escalate("alicia", None, "bored", {}, T0)
    with pytest.raises(Rejected, match="not 'purple'"):
        e.escalate("alicia", "purple", "refund_over_200", PAYLOAD, T0)
    with pytest.raises(Rejected, match="customer_emotional_state"):
        e.escalate(
            "alicia",
            None,
            "refund_over_200",
            {
                "issue_summary": "x",
                "alicia_already_tried": "y",
                "customer_emotional_state": "furious",
            },
            T0,
        )
    with pytest.raises(Rejected, match="unknown person or team 'bob'"):
        e.reassign("bob", "alicia", T0)
    e.resolve("alicia", "done", T0 + timedelta(minutes=5))
    with pytest.raises(Rejected, match="closed"):
        e.resolve("alicia", "again", T0 + timedelta(minutes=6))


def test_vip_removal_applies_forward_only():
    e = engine()
    e.open(T0)
    actions = e.vip_changed(False, "lola", "flagged in error", T0 + timedelta(minutes=1))
    assert any(a.kind == "audit.vip_flag_change" for a in actions)
    assert e.state.facts["vip"] is True and e.state.clocks["first_ack"].status == "running"


def test_short_id_is_eight_stable_characters():
    assert short_id("ticket-1-7") == short_id("ticket-1-7")
    assert len(short_id("ticket-1-7")) == 8 and short_id("ticket-1-7") != short_id("ticket-1-8")


def test_classification_from_label_starts_resolution_clock_from_open():
    e = engine()
    e.open(T0)
    assert e.state.clocks["resolution"].status == "waiting"  # armed at open, no ask type yet
    e.classify(None, ["ask:order_status"], None, T0 + timedelta(minutes=30))
    clock = e.state.clocks["resolution"]
    assert clock.started_at == T0 and clock.deadline == datetime(2026, 11, 17, 14, tzinfo=CT)


EVENTS = st.sampled_from(
    [
        "ack",
        "reply",
        "substantive",
        "customer",
        "escalate",
        "bad_escalate",
        "reassign",
        "classify",
        "resolve",
        "reopen",
        "vip_off",
        "vip_on",
        "handoff_ack",
        "handoff_fail",
    ]
)


def _apply(e: TicketEngine, kind: str, now: datetime, i: int):
    who = ["alicia", "lola", "jonathan"][i % 3]
    if kind == "ack":
        return e.acknowledged(who, now)
    if kind == "reply":
        return e.agent_replied(who, False, now, event_id=f"m{i % 4}")
    if kind == "substantive":
        return e.agent_replied(who, True, now)
    if kind == "customer":
        return e.customer_replied(now)
    if kind == "escalate":
        return e.escalate("alicia", None, "refund_over_200", PAYLOAD, now)
    if kind == "bad_escalate":
        return e.escalate("alicia", None, "nope", {}, now)
    if kind == "reassign":
        return e.reassign(who, "ops", now)
    if kind == "classify":
        return e.classify(["order_status", "refund_over_200"][i % 2], None, None, now)
    if kind == "resolve":
        return e.resolve(who, "ok", now)
    if kind == "reopen":
        return e.reopen(who, now)
    if kind in ("vip_off", "vip_on"):
        return e.vip_changed(kind == "vip_on", "lola", "test", now)
    if kind == "handoff_ack":
        return e.handoff_response(who, None, None, True, None, now)
    return e.handoff_response(who, None, None, False, None, now)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(EVENTS, st.integers(min_value=0, max_value=240)), max_size=25),
    st.integers(min_value=0, max_value=6 * 24 * 60),
    st.booleans(),
)
def test_random_event_sequences_keep_the_invariants(events, start_offset_min, vip):
    e = engine(vip=vip)
    now = datetime(2026, 11, 16, tzinfo=CT) + timedelta(minutes=start_offset_min)
    actions = e.open(now)
    for i, (kind, gap) in enumerate(events):
        now += timedelta(minutes=gap)
        actions += e.advance(now)
        try:
            actions += _apply(e, kind, now, i)
        except Rejected:
            pass
        wake = e.next_wakeup()
        assert (
            wake is None
            or e.closed
            or wake > now
            or any(c.deadline <= now for c in e.state.clocks.values())
        )
    actions += e.advance(now + timedelta(days=10))
    keys = [a.key for a in actions]
    assert len(keys) == len(set(keys)), "every action has its own idempotency key"
    triggered = set()
    for a in actions:
        if a.kind == "pagerduty.trigger":
            assert len(a.params["dedup_key"]) <= 255 and len(a.params["summary"]) <= 1024
            triggered.add(a.params["dedup_key"])
        if a.kind == "pagerduty.resolve":
            assert a.params["dedup_key"] in triggered, "only pages that were raised are resolved"
        if a.kind == "chatwoot.message":
            assert a.params["content"].strip()
    for clock in e.state.clocks.values():
        assert clock.deadline >= clock.started_at
    if e.closed:
        assert not any(p.status == "triggered" for p in e.state.pages.values())
    if not vip:
        assert not any(a.kind == "pagerduty.trigger" for a in actions) or e.state.facts["vip"]


def test_the_patch_flags_reach_every_concern():
    """The workflow pins a live ticket's code path on the engine; the split
    core's concerns read it from their shared context."""
    e = engine()
    assert e.sop_orders and e.event_stage_markers
    e.sop_orders, e.event_stage_markers = False, False
    assert (e.ctx.sop_orders, e.ctx.event_stage_markers) == (False, False)
    assert e.clocks.ctx is e.ladder.ctx is e.steps.ctx is e.ctx
    with pytest.raises(AttributeError):
        e.policy = POLICY
