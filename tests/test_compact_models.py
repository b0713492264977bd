"""models/compact.py: the small models a cached ticket keeps share one
fields-set per class, and nothing they send or store changes with it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import create_model

from models.state import ClockState
from models.ticket import Contact, Ticket
from models.ticket_input import TicketInput

AT = datetime(2026, 12, 1, 10, tzinfo=UTC)


def _clock(**kw) -> ClockState:
    return ClockState(
        name="first_reply", title="First reply", status="running", started_at=AT, deadline=AT, **kw
    )


# ClockState's fields on pydantic's own base: what its payloads were before.
_FIELDS: dict[str, Any] = {n: (f.annotation, f) for n, f in ClockState.model_fields.items()}
_PlainClock = create_model("_PlainClock", **_FIELDS)


def test_instances_share_one_fields_set_that_never_changes():
    a, b = _clock(), _clock(cycle=2)
    assert a.__pydantic_fields_set__ is b.__pydantic_fields_set__
    shared = set(a.__pydantic_fields_set__)
    a.status = "breached"  # an assignment adds a name already there
    c = b.model_copy(update={"cycle": 3})  # a copy updates its own copy of the set
    assert a.__pydantic_fields_set__ == shared == set(ClockState.model_fields)
    assert c.cycle == 3 and b.cycle == 2


def test_payloads_are_what_plain_models_send():
    kw = dict(
        name="first_reply",
        title="First reply",
        status="running",
        started_at=AT,
        deadline=AT,
        anchor_owner="lola",
    )
    assert ClockState(**kw).model_dump_json() == _PlainClock(**kw).model_dump_json()
    assert ClockState(**kw).model_dump(mode="json") == _PlainClock(**kw).model_dump(mode="json")


def test_the_tickets_own_copy_shares_the_inputs_values_and_dumps_the_same():
    inp = TicketInput(
        account_id=1,
        conversation_id=7,
        policy="vip-concierge",
        labels=["vip"],
        contact=Contact(name="Dana Whitfield", vip=True),
        custom_attributes={"tier": "gold"},
        created_at=AT,
        subject="Refund",
    )
    t = inp.ticket()
    assert type(t) is Ticket and t.contact is inp.contact and t.labels is inp.labels
    validated = Ticket.model_validate(inp.model_dump(include=set(Ticket.model_fields)))
    assert t == validated and t.model_dump(mode="json") == validated.model_dump(mode="json")
