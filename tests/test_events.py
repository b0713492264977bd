"""One typed event: every signal and update payload is a member of
`TicketEvent`, discriminated by a `kind` no sender sets; a recorded input
reads back as the event it was; the engine takes the event itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

import pytest
from pydantic import ValidationError

from engine.context import Rejected
from engine.core import TicketEngine
from engine.policy_loader import load_policy_file
from models.events import EVENTS, KINDS, TicketEvent, event_of
from models.signals import Acknowledged, AgentReplied, Escalate
from models.ticket import Contact, Ticket
from tests.helpers import POLICIES_DIR

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)


def test_every_member_has_its_own_kind_and_senders_never_set_it():
    members = get_args(get_args(TicketEvent)[0])
    assert len(KINDS) == len(members) == 14
    assert Acknowledged(by="lola").kind == "acknowledged"
    # A payload from a sender (or a history) older than the field reads as before.
    assert Acknowledged.model_validate({"by": "lola"}).kind == "acknowledged"


def test_a_recorded_input_reads_back_as_the_event_it_was():
    e = event_of("agent_replied", {"by": "alicia", "event_id": "message:7"})
    assert isinstance(e, AgentReplied) and e.event_id == "message:7"
    with pytest.raises(ValidationError):
        EVENTS.validate_python({"kind": "acknowledged"})  # `by` is required
    with pytest.raises(ValidationError):
        event_of("sms_received", {"by": "x"})  # not a kind a ticket receives


def test_the_engine_receives_the_event_itself():
    policy = load_policy_file(POLICIES_DIR / "vip-concierge.yaml")
    ticket = Ticket(
        account_id=1, conversation_id=5, policy=policy.name, contact=Contact(name="Dana", vip=True)
    )
    engine = TicketEngine.new(policy, ticket, "ticket-1-5")
    engine.open(NOW)
    engine.receive(Acknowledged(by="lola", event_id="a1"), NOW)
    assert engine.state.acknowledged_by == "lola"
    assert engine.state.clocks["first_ack"].status == "stopped"
    engine.receive(Acknowledged(by="jonathan", event_id="a1"), NOW)  # seen: ignored
    assert engine.state.acknowledged_by == "lola"
    with pytest.raises(Rejected, match="unknown escalation reason"):
        engine.receive(Escalate(by="lola", reason="no_such_reason"), NOW)
    actions = engine.receive(
        Escalate(by="lola", reason="legal_threat", payload={"issue_summary": "Lawyer letter"}), NOW
    )
    assert engine.state.stage == "escalated" and actions, engine.state.stage
