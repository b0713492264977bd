"""console/applicable.py: a ticket's page offers only the actions its state
allows, and says in one line why each other one is not offered."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from console.applicable import ACTIONS, verdicts
from models.state import HandoffState
from models.status import TicketStatus

AT = datetime(2026, 11, 17, 16, 5, tzinfo=UTC)
REASONS = ["legal_threat", "refund_over_200"]


def status(**kw) -> TicketStatus:
    return TicketStatus(
        **{
            "ticket_id": "ticket-1-5",
            "policy": "vip-concierge",
            "stage": "open",
            "timezone": "America/Chicago",
            **kw,
        }
    )


def offered(s: TicketStatus, reasons=REASONS) -> set[str]:
    return {a for a, v in verdicts(s, reasons).items() if v.offered}


def handoff(state: str) -> HandoffState:
    return HandoffState(
        id="h",
        name="over_authority",
        title="Over-authority",
        target="alliyson",
        status=state,
        started_at=AT,
        deadline=AT,
    )


def test_an_open_unacknowledged_ticket():
    v = verdicts(status(), REASONS)
    assert offered(status()) == {"acknowledge", "request_escalation", "reassign_to", "resolve"}
    assert v["reopen"].reason == "only a resolved ticket can be reopened (it is open)"
    assert v["decide"].reason == "no handoff is open"
    assert list(v) == list(ACTIONS)


def test_no_acknowledge_once_someone_has_and_the_page_says_who_and_when():
    v = verdicts(status(stage="acknowledged", acknowledged_at=AT, acknowledged_by="lola"), REASONS)
    assert not v["acknowledge"].offered
    assert (
        v["acknowledge"].reason == "already acknowledged by lola at 11-17 10:05 CST (UTC-06:00)"
    )  # the pack's zone
    assert v["resolve"].offered and v["reassign_to"].offered


@pytest.mark.parametrize(
    "state,answerable",
    [
        ("open", True),
        ("failed", True),
        ("acknowledged", False),
        ("decided", False),
        ("cancelled", False),
    ],
)
def test_a_handoff_answer_only_while_one_is_open(state, answerable):
    assert ("decide" in offered(status(stage="escalated", handoffs=[handoff(state)]))) is answerable


def test_a_resolved_ticket_offers_reopen_and_reassign_only():
    s = status(stage="resolved", resolved_at=AT)
    v = verdicts(s, REASONS)
    assert offered(s) == {"reopen", "reassign_to"}
    assert v["resolve"].reason == "the ticket is already resolved"
    assert (
        v["request_escalation"].reason == "a resolved ticket cannot be escalated; reopen it first"
    )


@pytest.mark.parametrize(
    "stage,why",
    [
        ("closed", "the ticket is closed; nothing changes it now"),
        ("starting", "the ticket is still starting; reload in a moment"),
    ],
)
def test_nothing_applies_to_a_closed_or_starting_ticket(stage, why):
    v = verdicts(status(stage=stage), REASONS)
    assert offered(status(stage=stage)) == set()
    assert {x.reason for x in v.values()} == {why}


def test_a_pack_that_failed_to_load_or_has_no_escalation_reasons():
    v = verdicts(status(stage="policy_error", error="no such pack 'vip'"), REASONS)
    assert v["reassign_to"].reason == "the ticket's pack could not be loaded: no such pack 'vip'"
    v = verdicts(status(), [])
    assert v["request_escalation"].reason == "the vip-concierge pack has no escalation reasons"
