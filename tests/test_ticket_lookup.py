"""Finding a ticket by what a person has in hand (client/ticket_lookup.py),
on a stand-in Temporal client: workflow ids, conversation numbers, short
ids in every form a page or a message prints them, an 8-digit number that
is a conversation or a short id, finished tickets, and ambiguity. (The CLI
on a real server: test_operator_cli.py; the console's box: test_console.py.)"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from temporalio.service import RPCError, RPCStatusCode

from client.ticket_lookup import AmbiguousTicket, TicketNotFound, as_short_id, find_ticket
from engine.ticket_ids import short_id


class Tickets:
    """Open and finished ticket workflow ids; records the list queries asked."""

    def __init__(self, open_: list[str], finished: tuple[str, ...] = ()) -> None:
        self.open, self.finished = open_, list(finished)
        self.queries: list[str] = []

    def list_workflows(self, query: str, **_):
        self.queries.append(query)
        ids = self.finished if "!= 'Running'" in query else self.open

        async def walk():
            for wid in ids:
                yield SimpleNamespace(id=wid)

        return walk()

    def get_workflow_handle(self, wid: str):
        known = set(self.open) | set(self.finished)

        async def describe():
            if wid not in known:
                raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")
            return SimpleNamespace(id=wid)

        return SimpleNamespace(describe=describe)


def test_a_short_id_is_eight_hex_digits_however_it_is_printed():
    assert as_short_id("5ae54c22") == as_short_id("#5AE54C22") == "5AE54C22"
    assert as_short_id(" [5AE54C22] ") == "5AE54C22"
    for text in ("5AE54C2", "5AE54C22X", "ticket-1-7", "GHIJKLMN", "#"):
        assert as_short_id(text) is None, text


async def test_workflow_id_conversation_and_short_id_name_the_same_ticket():
    wid = "ticket-3-7"
    client = Tickets(["ticket-3-1", wid, "ticket-3-9"])
    for text in (wid, "7", short_id(wid), f"#{short_id(wid).lower()}"):
        assert await find_ticket(client, text, 3) == wid, text
    with pytest.raises(TicketNotFound, match="conversation 8 \\(no workflow ticket-3-8\\)"):
        await find_ticket(client, "8", 3)


async def test_an_eight_digit_number_is_a_conversation_first_then_a_short_id():
    digits = next(
        (f"ticket-1-{n}", short_id(f"ticket-1-{n}"))
        for n in range(1, 10_000)
        if short_id(f"ticket-1-{n}").isdigit()
    )
    wid, short = digits
    assert await find_ticket(Tickets([wid]), short, 1) == wid  # no such conversation
    conv = f"ticket-1-{int(short)}"
    assert await find_ticket(Tickets([wid, conv]), short, 1) == conv  # the conversation wins
    assert await find_ticket(Tickets([wid, conv]), f"#{short}", 1) == wid  # `#`: a short id


async def test_a_finished_ticket_is_found_after_the_open_ones_are_searched():
    old = "ticket-1-40"
    client = Tickets(["ticket-1-41"], finished=(old, old))  # two runs of one ticket
    assert await find_ticket(client, short_id(old), 1) == old
    assert ["!= 'Running'" in q for q in client.queries] == [False, True]
    with pytest.raises(TicketNotFound, match="none has the short id ABCDEF01"):
        await find_ticket(client, "abcdef01", 1)


async def test_two_tickets_with_one_short_id_are_named_not_guessed(monkeypatch):
    import client.ticket_lookup as lookup

    monkeypatch.setattr(lookup, "short_id", lambda wid: "ABCDEF01")
    with pytest.raises(AmbiguousTicket, match=r"2 tickets .* ticket-1-1, ticket-1-2; give"):
        await find_ticket(Tickets(["ticket-1-1", "ticket-1-2"]), "ABCDEF01", 1)
    with pytest.raises(TicketNotFound, match="no ticket given"):
        await find_ticket(Tickets([]), "  ", 1)
