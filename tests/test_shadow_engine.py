"""Shadow mode in the decision core (engine/shadow.py), pure: a ticket in
shadow decides what a live one does, but every Chatwoot and PagerDuty call
becomes a `shadow.withheld` audit row saying what would have been sent;
going live (a `WentLive` event) sends what falls due after it."""

from __future__ import annotations

from datetime import datetime, timedelta

from engine.core import TicketEngine
from engine.policy_loader import load_policy
from engine.shadow import WITHHELD, WITHHELD_KINDS
from models.actions import MARKERS, Action
from models.signals import WentLive
from models.ticket import Contact, Ticket
from models.timezones import zone
from tests.helpers import POLICIES_DIR

CT = zone("America/Chicago")
POLICY = load_policy("vip-concierge", POLICIES_DIR)
T0 = datetime(2026, 11, 17, 10, tzinfo=CT)  # a Tuesday: Alicia owns, Lola is her backup
WHY = "SHADOW_POLICIES names vip-concierge"


def engine(shadow: str | None) -> TicketEngine:
    ticket = Ticket(
        account_id=1,
        conversation_id=7,
        policy="vip-concierge",
        contact=Contact(name="Dana Whitfield", vip=True),
    )
    return TicketEngine.new(POLICY, ticket, "ticket-1-7", shadow=shadow)


def run_two_hours(e: TicketEngine) -> list[Action]:
    actions = e.open(T0)
    for minutes in range(1, 121):
        actions += e.advance(T0 + timedelta(minutes=minutes))
    return actions


def outside(actions: list[Action]) -> list[Action]:
    return [a for a in actions if a.kind in WITHHELD_KINDS]


def test_a_shadow_breach_is_audited_as_what_would_be_sent_and_nothing_goes_out():
    live, shadow = run_two_hours(engine(None)), run_two_hours(engine(WHY))
    sent = outside(live)
    assert any(a.kind == "pagerduty.trigger" and a.target == "lola" for a in sent)
    assert any(a.kind == "chatwoot.note" for a in sent)

    assert outside(shadow) == []
    withheld = [a for a in shadow if a.kind == WITHHELD]
    # One audit row per call the live ticket makes, with the same key, instant and target.
    assert [(a.key, a.at, a.target, a.params["would"]) for a in withheld] == [
        (a.key, a.at, a.target, a.kind) for a in sent
    ]
    assert WITHHELD in MARKERS  # so each is a row in ticket_events
    page = next(a for a in withheld if a.params["would"] == "pagerduty.trigger")
    assert page.summary.startswith("Would page Laura Daniels")
    assert page.params["would_params"]["dedup_key"] == page.key
    note = next(a for a in withheld if a.params["would"] == "chatwoot.note")
    assert note.summary.startswith("Would post a private note: ")
    # Everything else is decided as on the live ticket: breaches, owner, ladder.
    assert [a.kind for a in shadow if a.kind != WITHHELD] == [
        a.kind for a in live if a.kind not in WITHHELD_KINDS
    ]
    assert "sla.breached" in {a.kind for a in shadow}
    assert {k: p.withheld for k, p in engine_pages(WHY).items()} == {
        k: True for k in engine_pages(WHY)
    }


def engine_pages(shadow: str | None):
    e = engine(shadow)
    run_two_hours(e)
    return e.state.pages


def test_going_live_sends_what_falls_due_after_it_once():
    e = engine(WHY)
    actions = e.open(T0)
    actions += e.advance(T0 + timedelta(minutes=31))  # the acknowledgement breach: withheld
    assert outside(actions) == [] and any(a.kind == WITHHELD for a in actions)
    assert e.state.shadow == WHY

    went = e.receive(
        WentLive(why="SHADOW_POLICIES no longer names vip-concierge"), T0 + timedelta(minutes=40)
    )
    assert [a.kind for a in went] == ["ticket.live"]
    assert e.state.shadow is None and e.state.live_at == T0 + timedelta(minutes=40)
    assert "shadow mode ended" in went[0].summary
    assert e.receive(WentLive(why="again"), T0 + timedelta(minutes=41)) == []  # live is final

    later = [a for m in range(41, 121) for a in e.advance(T0 + timedelta(minutes=m))]
    assert any(a.kind == "pagerduty.trigger" for a in later)  # the next ladder step pages
    assert not any(a.kind == WITHHELD for a in later)
    # Closing resolves only pages that were sent: a withheld one never reached PagerDuty.
    closing = e.resolve("alicia", "done", T0 + timedelta(hours=3))
    resolved = {a.params["dedup_key"] for a in closing if a.kind == "pagerduty.resolve"}
    assert resolved == {k for k, p in e.state.pages.items() if not p.withheld}
    assert any(p.withheld for p in e.state.pages.values())


def test_the_web_ui_board_says_shadow_and_withheld():
    from engine.board import ticket_board
    from models.status import TicketStatus

    e = engine(WHY)
    run_two_hours(e)
    s = e.state
    status = TicketStatus(
        ticket_id=s.workflow_id,
        policy=POLICY.name,
        stage=s.stage,
        owner=s.owner,
        pages=list(s.pages.values()),
        shadow=s.shadow,
    )
    board = ticket_board(status, POLICY)
    assert board.startswith("**SHADOW**") and WHY in board
    assert "withheld" in board


def test_the_settings_name_packs_and_inboxes():
    from infra.settings import load_settings

    scope = load_settings(shadow_policies="vip-concierge, ops-ladder", shadow_inboxes="3,5")
    why = scope.shadow_scope.why
    assert why("ops-ladder", None) == "SHADOW_POLICIES names ops-ladder"
    assert why("lifecycle", 5) == "SHADOW_INBOXES names inbox 5"
    assert why("lifecycle", 4) is None and why("lifecycle", None) is None
    assert load_settings().shadow_scope.why("vip-concierge", 3) is None  # none by default
