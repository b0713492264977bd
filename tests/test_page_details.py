"""What a page tells the person it wakes (engine/page_details.py), pure: the
customer, VIP or not, the pack and clock, the deadline and how late, who is
paged next and when. The console link is the activity's
(tests/test_integration_activities.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from dryrun.replay_handoff import handoff_input
from engine.core import TicketEngine, short_id
from engine.handoff import HandoffEngine
from engine.policy_loader import load_policy
from models.actions import Action
from models.ticket import Contact, Ticket
from models.timezones import zone
from tests.helpers import POLICIES_DIR

CT = zone("America/Chicago")
VIP = load_policy("vip-concierge", POLICIES_DIR)
TIER = load_policy("tier-escalation", POLICIES_DIR)
T0 = datetime(2026, 11, 17, 10, tzinfo=CT)  # a Tuesday
WID = "ticket-1-7"


def engine(policy=VIP, vip=True, **kw) -> TicketEngine:
    contact = Contact(name="Dana Whitfield", email="dana@example.com", vip=vip)
    ticket = Ticket(account_id=1, conversation_id=7, policy=policy.name, contact=contact, **kw)
    return TicketEngine.new(policy, ticket, WID)


def pages(actions: list[Action]) -> list[Action]:
    return [a for a in actions if a.kind == "pagerduty.trigger"]


def test_a_breach_page_names_the_customer_the_clock_the_deadline_and_who_is_next():
    e = engine()
    e.open(T0)
    [page] = pages(e.advance(T0 + timedelta(minutes=30)))
    assert page.target == "lola"
    assert page.params["summary"].startswith(f"[{short_id(WID)}] ")
    assert page.params["custom_details"] == {
        "ticket": WID,
        "short_id": short_id(WID),
        "conversation_id": 7,
        "customer": "Dana Whitfield <dana@example.com>",
        "vip": True,
        "pack": "vip-concierge",
        "clock": "VIP first acknowledgment 30m",
        "deadline": "Tue 2026-11-17 10:30 CST (UTC-06:00)",
        "late_by": "0 minutes",
        "next_page": "Jonathan Sullivan at Tue 2026-11-17 11:00 CST (UTC-06:00), in 30 minutes, "
        "unless this page is acknowledged first",
        "owner": "alicia",
        "stage": "open",
        "source": "clock:first_ack",
    }


def test_a_page_sent_late_says_how_late_and_the_last_one_that_nobody_is_next():
    e = engine()
    e.open(T0)
    # A worker back at 10:40: the 10:30 page goes out then (within max_catch_up).
    [late] = pages(e.advance(T0 + timedelta(minutes=40)))
    details = late.params["custom_details"]
    assert late.at == T0 + timedelta(minutes=30)
    assert details["late_by"] == "10 minutes"
    assert details["next_page"].startswith("Jonathan Sullivan at Tue 2026-11-17 11:00 CST")
    assert ", in 20 minutes," in details["next_page"]
    [last] = pages(e.advance(T0 + timedelta(hours=1)))
    assert last.target == "jonathan"
    assert last.params["custom_details"]["late_by"] == "30 minutes"
    assert last.params["custom_details"]["next_page"] == "nobody: no further page is scheduled"
    assert last.params["custom_details"]["owner"] == "lola"  # the breach reassigned it


def test_a_rule_page_is_about_the_most_pressing_clock_and_names_the_page_beside_it():
    ny = zone("America/New_York")
    e = engine(TIER, vip=False, custom_attributes={"urgency": "critical"})
    actions = e.open(datetime(2026, 11, 17, 10, tzinfo=ny))
    first, second = pages(actions)
    details = first.params["custom_details"]
    assert (first.target, second.target) == ("oncall_engineering", "roy")
    assert details["vip"] is False and details["pack"] == "tier-escalation"
    assert details["clock"] == e.state.clocks["response_critical"].title
    assert details["deadline"] == "Tue 2026-11-17 10:15 EST (UTC-05:00)"
    assert details["late_by"] == "not yet (15 minutes left)"
    # Roy is paged at the same instant, by the same rule: acknowledging does not stop him.
    assert details["next_page"] == "Roy Henderson now (Tue 2026-11-17 10:00 EST (UTC-05:00))"
    assert second.params["custom_details"]["next_page"] == "nobody: no further page is scheduled"


def test_a_handoff_page_names_the_ticket_not_the_handoff_and_its_answer_deadline():
    e = engine()
    e.open(T0)
    e.acknowledged("alicia", T0 + timedelta(minutes=1))
    payload = {
        "issue_summary": "refund",
        "alicia_already_tried": "store credit",
        "customer_emotional_state": "calm",
    }
    actions = e.escalate("alicia", None, "refund_over_200", payload, T0 + timedelta(minutes=2))
    [start] = [a for a in actions if a.kind == "handoff.start"]
    h = HandoffEngine(handoff_input(start.params, VIP, e.state))
    failed, _ = h.timeout(h.inp.deadline)
    [page] = pages(failed)
    details = page.params["custom_details"]
    assert page.key.startswith(h.inp.handoff_id + ":")  # keys stay the handoff's
    assert details["ticket"] == WID and details["short_id"] == short_id(WID)
    assert page.params["summary"].startswith(f"[{short_id(WID)}] ")
    assert details["clock"].startswith("Handoff: ") and details["late_by"] == "0 minutes"
    assert details["deadline"] == "Tue 2026-11-17 10:32 CST (UTC-06:00)"
    assert details["next_page"].startswith("Jonathan Sullivan at Tue 2026-11-17 11:02 CST")
