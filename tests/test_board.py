"""engine/board.py: the Markdown a ticket and a handoff show in the Temporal
Web UI, and the one-line summary of the workflow list (pure, no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.board import (
    LAST_STEPS,
    conversation_url,
    handoff_board,
    handoff_start_metadata,
    static_details,
    static_summary,
    ticket_board,
)
from engine.policy_loader import load_policy
from models.handoff import HandoffInput, HandoffStatus
from models.state import ClockState, HandoffState, LadderEntry, PageState
from models.status import TicketStatus
from models.ticket import Contact, Ticket
from tests.helpers import POLICIES_DIR

UTC = UTC
VIP = load_policy("vip-concierge", POLICIES_DIR)


def _ticket(**kw) -> Ticket:
    return Ticket(**{"account_id": 3, "conversation_id": 42, "policy": "vip-concierge", **kw})


def test_static_summary_reads_kind_customer_and_pack():
    assert (
        static_summary(_ticket(contact=Contact(name="Jane Doe", vip=True)))
        == "VIP · Jane Doe · vip-concierge"
    )
    assert (
        static_summary(_ticket(contact=Contact(name="Sam"), policy="ops-ladder"))
        == "Sam · ops-ladder"
    )
    assert static_summary(_ticket()) == "conversation 42 · vip-concierge"
    # a name from Chatwoot cannot break the one-line list or restyle it
    assert (
        static_summary(_ticket(contact=Contact(name="Eve\n# [x](y)")))
        == "Eve # (x)(y) · vip-concierge"
    )
    assert len(static_summary(_ticket(contact=Contact(name="x" * 500)))) == 200


def test_conversation_url_only_when_chatwoot_is_known():
    assert conversation_url(None, 1, 2) is None
    assert (
        conversation_url("https://cw.example/", 1, 2)
        == "https://cw.example/app/accounts/1/conversations/2"
    )
    assert (
        conversation_url("https://cw.example", 1, 2)
        == "https://cw.example/app/accounts/1/conversations/2"
    )
    details = static_details(
        _ticket(
            conversation_url="https://cw.example/app/accounts/3/conversations/42",
            labels=["vip", "bad`label"],
            inbox_id=5,
        )
    )
    assert (
        "[#42](https://cw.example/app/accounts/3/conversations/42) · account 3 · inbox 5" in details
    )
    assert "`bad'label`" in details
    assert "[#42]" not in static_details(_ticket())  # no link without Chatwoot's address


def _status(**kw) -> TicketStatus:
    return TicketStatus(
        **{
            "ticket_id": "ticket-3-42",
            "policy": "vip-concierge",
            "timezone": "America/Los_Angeles",
            "owner": "lola",
            "stage": "escalated",
            "vip": True,
            "sla_state": "breached",
            **kw,
        }
    )


def test_ticket_board_shows_owner_breach_in_the_pack_zone_handoffs_and_last_steps():
    # 2026-03-08: Los Angeles moves to PDT at 02:00 local; a deadline after it reads -07:00.
    deadline = datetime(2026, 3, 8, 10, 15, tzinfo=UTC)
    opened = deadline - timedelta(minutes=30)
    ladder = [
        LadderEntry(
            at=opened + timedelta(minutes=i),
            source="clock:first_ack",
            action="x",
            summary=f"step {i}",
        )
        for i in range(7)
    ]
    ladder.append(
        LadderEntry(
            at=opened + timedelta(minutes=7),
            source="handoff:ticket-3-42:handoff:over_authority:0",
            action="x",
            summary="step 7",
        )
    )
    board = ticket_board(
        _status(
            clocks=[
                ClockState(
                    name="first_ack",
                    title="VIP first acknowledgment 30m",
                    status="breached",
                    started_at=opened,
                    deadline=deadline,
                    breached_at=deadline,
                ),
                ClockState(
                    name="resp",
                    title="Response 1h",
                    status="stopped",
                    started_at=opened,
                    deadline=opened + timedelta(hours=1),
                    stopped_at=opened + timedelta(minutes=5),
                ),
            ],
            handoffs=[
                HandoffState(
                    id="h1",
                    name="over_authority",
                    title="Over-authority escalation",
                    target="alliyson",
                    reason="refund_over_200",
                    started_at=opened,
                    deadline=deadline + timedelta(hours=20),
                ),
                HandoffState(
                    id="h0",
                    name="over_authority",
                    title="Old one",
                    target="lola",
                    status="acknowledged",
                    started_at=opened,
                    deadline=deadline,
                ),
            ],
            pages=[
                PageState(dedup_key="k", target="lola", source="clock:first_ack", at=deadline),
                PageState(
                    dedup_key="k2", target="jonathan", source="x", at=deadline, status="resolved"
                ),
            ],
            ladder=ladder,
            now=deadline + timedelta(minutes=1),
            level=1,
        ),
        VIP,
        "https://cw.example/app/accounts/3/conversations/42",
    )
    assert board.startswith(
        "**VIP** · **Owner** Laura Daniels (`lola`) · **Stage** escalated · **SLA** **BREACHED**"
    )
    assert "**Clocks** (times in America/Los_Angeles)" in board
    assert (
        "- **VIP first acknowledgment 30m**: **BREACHED**, "
        "deadline Sun 2026-03-08 03:15 PDT (UTC-07:00)" in board
    )
    assert "- Response 1h: stopped at Sun 2026-03-08 01:50 PST (UTC-08:00)" in board
    assert (
        "- **Over-authority escalation** (refund_over_200) → Alliyson Bonner (`alliyson`): "
        "open until "
        "Sun 2026-03-08 23:15 PDT (UTC-07:00)" in board
    )
    assert "Old one" not in board  # finished handoffs leave the board
    assert (
        "**Pages open** Laura Daniels (`lola`) triggered Sun 03-08 03:15 PDT" in board
        and "Jonathan" not in board
    )
    assert "step 7 *(handoff over_authority)*" in board  # a handoff's long id, shortened
    shown = [line for line in board.splitlines() if line.startswith("- ") and "step" in line]
    assert [line.split(" · ")[1].split(" *(")[0] for line in shown] == [
        f"step {i}" for i in range(8 - LAST_STEPS, 8)
    ]
    assert (
        "[Chatwoot conversation #42](https://cw.example/app/accounts/3/conversations/42)" in board
    )
    assert board.rstrip().endswith("_Updated Sun 03-08 03:16 PDT_")


def test_ticket_board_without_policy_or_link_still_reads():
    board = ticket_board(
        _status(owner=None, vip=False, sla_state="running", stage="open", timezone=None)
    )
    assert board.startswith("**Owner** nobody · **Stage** open · **SLA** running")
    assert "Chatwoot" not in board and "Open handoffs" not in board


def test_handoff_board_says_from_whom_to_whom_until_when():
    t0 = datetime(2026, 11, 17, 16, tzinfo=UTC)
    inp = HandoffInput(
        handoff_id="ticket-3-42:handoff:over_authority:0",
        ticket_workflow_id="ticket-3-42",
        name="over_authority",
        target="alliyson",
        reason="refund_over_200",
        by="lola",
        owner="lola",
        started_at=t0,
        deadline=t0 + timedelta(minutes=30),
        policy=VIP,
        ticket=_ticket(),
    )
    st = HandoffStatus(
        handoff_id=inp.handoff_id,
        name=inp.name,
        target="alliyson",
        status="failed",
        deadline=inp.deadline,
        pending_steps=1,
        ladder=[
            LadderEntry(at=inp.deadline, source="handoff", action="page", summary="Paged Laura")
        ],
    )
    board = handoff_board(st, inp, "https://cw.example/app/accounts/3/conversations/42")
    assert board.startswith(
        "**Over-authority escalation** · Laura Daniels (`lola`) → Alliyson Bonner (`alliyson`)"
        " · **State** **FAILED** (walking its on-failure steps)"
    )
    assert "**Deadline** Tue 2026-11-17 10:30 CST (UTC-06:00) · **Reason** refund_over_200" in board
    assert "**Ticket** `ticket-3-42`" in board and "**Steps still to come** 1" in board
    assert "- Tue 11-17 10:30 CST · Paged Laura *(handoff)*" in board
    assert "Chatwoot" not in handoff_board(st, inp)


def test_handoff_start_metadata_carries_the_typed_payload_for_people():
    t0 = datetime(2026, 11, 17, 16, tzinfo=UTC)
    inp = HandoffInput(
        handoff_id="h",
        ticket_workflow_id="ticket-3-42",
        name="over_authority",
        target="alliyson",
        reason="refund_over_200",
        by="lola",
        started_at=t0,
        deadline=t0,
        policy=VIP,
        ticket=_ticket(),
        payload={"issue_summary": "Refund of $450\nplease", "vip_flag": True, "impact": None},
    )
    meta = handoff_start_metadata(inp, "Start handoff Over-authority escalation → Alliyson Bonner")
    assert meta["static_summary"] == "Start handoff Over-authority escalation → Alliyson Bonner"
    assert meta["static_details"].startswith(
        "**Over-authority escalation** for ticket `ticket-3-42` · reason refund_over_200"
    )
    assert (
        "**Started by** Laura Daniels (`lola`) at Tue 2026-11-17 10:00 CST (UTC-06:00)"
        in meta["static_details"]
    )
    assert (
        "**Payload**\n\n- Issue summary: Refund of $450 please\n- Vip flag: yes"
        in meta["static_details"]
    )
    assert "Impact" not in meta["static_details"]
