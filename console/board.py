"""The board: open tickets one page at a time, named by their memo, with each
row's next deadline and last page from its `status` query.

Cost per refresh, the same with 100 or 10,000 open tickets: one visibility
list call for the page (two or three when a page spans SLA groups, below),
three count calls (the totals in the header and the tickets parked in
`policy_error`, shared for STATUS_TTL), and one
`status` query per row of the page (at most PAGE_SIZE, QUERY_CONCURRENCY at
a time, each bounded by QUERY_TIMEOUT, so a ticket whose worker is down
shows "status unavailable" instead of stalling the page). Queries run on
the worker (the stack's bottleneck), so their answers are shared for
STATUS_TTL across every open board: ten operators refreshing cost what one
does. An action taken in the console replaces its ticket's entry at once.
Who and what each ticket is about comes with the list itself (the memo set
at start, models/ticket_card.py); a ticket started without one is named from
its status query.

Order. Visibility cannot sort by deadline (there is no deadline search
attribute, and adding one would change every live ticket's history), and
Temporal's SQL visibility (SQLite in dev, Postgres) takes no ORDER BY. So
the board walks the tickets in SLA groups, each a visibility query of its
own: breached first, then those with a clock running, then the rest; within
a group, Temporal's order (newest started first). Each page is sorted inside
its groups by next deadline (or level, or age); the page says so. A cursor
(group, rows before it, visibility's page token) names the next page.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from temporalio.client import Client, WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError

from client.tickets import TicketFilter, TicketRow, conversation_of, list_page, next_deadline
from models import search_attributes as sa
from models.state import PageState
from models.status import TicketStatus
from models.ticket_card import TicketCard
from workflows.ticket import TicketWorkflow

QUERY_CONCURRENCY = 16
QUERY_TIMEOUT = timedelta(seconds=3)
PAGE_SIZE = 50
STATUS_TTL = 10.0  # seconds; countdowns tick in the browser, so only state changes wait for it

_SLA = sa.SLA_STATE.name
# (name shown on the page, visibility clause): the order pages walk the tickets in.
GROUPS = (
    ("breached", f"{_SLA} = 'breached'"),
    ("clock running", f"{_SLA} = 'running'"),
    ("the rest", f"({_SLA} IS NULL OR {_SLA} NOT IN ('breached', 'running'))"),
)
SORTS = {"deadline": "next deadline", "level": "escalation level", "age": "longest open"}
# Tickets whose pack would not load: nobody is paged for them (docs/operating.md). Counted
# whatever the filters, since an operator filtering by owner must still see them.
PARKED = f"{TicketFilter().visibility_query()} AND {sa.TICKET_STAGE.name} = 'policy_error'"

T = TypeVar("T")


class TtlCache(Generic[T]):
    """Answers shared by every board for `ttl` seconds."""

    def __init__(self, ttl: float = STATUS_TTL, max_entries: int = 5000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, T]] = {}

    def get(self, key: str) -> T | None:
        hit = self._entries.get(key)
        return hit[1] if hit and hit[0] > time.monotonic() else None

    def put(self, key: str, value: T) -> None:
        if len(self._entries) >= self.max_entries:
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl, value)


class StatusCache(TtlCache[TicketStatus]):
    """Ticket statuses, by workflow id."""


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: an SLA group, the rows before it, visibility's page
    token in that group."""

    group: int = 0
    offset: int = 0
    token: bytes | None = None

    def encode(self) -> str:
        token = base64.urlsafe_b64encode(self.token).decode().rstrip("=") if self.token else ""
        return f"{self.group}.{self.offset}.{token}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor:
        """The cursor in a page's URL; the first page for anything else."""
        try:
            group, offset, token = (text or "").split(".", 2)
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)) if token else None
            cursor = cls(int(group), int(offset), raw)
        except (ValueError, binascii.Error):
            return cls()
        return cursor if 0 <= cursor.group < len(GROUPS) and cursor.offset >= 0 else cls()


@dataclass
class BoardRow:
    row: TicketRow
    status: TicketStatus | None
    deadline: datetime | None = None
    deadline_title: str | None = None
    group: int = 0

    @property
    def card(self) -> TicketCard | None:
        """Who and what: the memo's card, else (a ticket started before memos)
        the status query's."""
        return self.row.card or (self.status.card if self.status else None)

    @property
    def title(self) -> str:
        """The customer's name, else the conversation's number."""
        card = self.card
        if card and card.customer:
            return card.customer
        ids = conversation_of(self.row.workflow_id)
        return f"conversation #{ids[1]}" if ids else self.row.workflow_id

    @property
    def opened_at(self) -> datetime | None:
        card = self.card
        return (card.opened_at if card else None) or self.row.started_at

    @property
    def vip(self) -> bool:
        return bool(self.status.vip if self.status else self.row.vip)

    @property
    def shadow(self) -> str | None:
        """Why the ticket runs in shadow mode (from its status; None: live or unknown)."""
        return self.status.shadow if self.status else None

    @property
    def sla_state(self) -> str | None:
        return self.status.sla_state if self.status else self.row.sla_state

    @property
    def breached(self) -> bool:
        return self.sla_state == "breached"

    @property
    def owner(self) -> str | None:
        return self.status.owner if self.status else self.row.owner

    @property
    def stage(self) -> str | None:
        return self.status.stage if self.status else self.row.stage

    @property
    def last_page(self) -> PageState | None:
        return self.status.last_page if self.status else None


@dataclass
class Calls:
    """The Temporal calls one board cost (what the bench reports)."""

    lists: int = 0
    counts: int = 0
    queries: int = 0


@dataclass
class BoardPage:
    rows: list[BoardRow]
    cursor: Cursor
    next: Cursor | None
    total: int | None  # open tickets matching the filters; None when the count failed
    breached: int | None
    parked: int | None = None  # open tickets in policy_error (any filter)
    calls: Calls = field(default_factory=Calls)

    @property
    def first(self) -> int:
        return self.cursor.offset + 1

    @property
    def last(self) -> int:
        return self.cursor.offset + len(self.rows)


async def _status(
    client: Client, wid: str, gate: asyncio.Semaphore, cache: StatusCache, calls: Calls
) -> TicketStatus | None:
    cached = cache.get(wid)
    if cached is not None:
        return cached
    async with gate:
        calls.queries += 1
        try:
            status = await client.get_workflow_handle(wid).query(
                TicketWorkflow.status, rpc_timeout=QUERY_TIMEOUT
            )
        except (TimeoutError, RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError):
            return None  # worker down or ticket just finished: the row shows visibility's view
    cache.put(wid, status)
    return status


async def _count(client: Client, query: str, cache: TtlCache[int], calls: Calls) -> int | None:
    cached = cache.get(query)
    if cached is not None:
        return cached
    calls.counts += 1
    try:
        n = (await client.count_workflows(query, rpc_timeout=QUERY_TIMEOUT)).count
    except RPCError:
        return None  # the header says "?"; the rows still load
    cache.put(query, n)
    return n


async def _rows(
    client: Client, flt: TicketFilter, cursor: Cursor, calls: Calls
) -> tuple[list[tuple[int, TicketRow]], Cursor | None]:
    """One page of rows, walking on to the next SLA group when one runs out."""
    base = flt.visibility_query()
    last = 0 if flt.breached else len(GROUPS) - 1  # "breached only" is the first group alone
    rows: list[tuple[int, TicketRow]] = []
    group, token = cursor.group, cursor.token
    while group <= last:
        page, token = await list_page(
            client, f"{base} AND {GROUPS[group][1]}", PAGE_SIZE - len(rows), token, QUERY_TIMEOUT
        )
        calls.lists += 1
        rows += [(group, r) for r in page]
        if token is None:
            group += 1
        if len(rows) >= PAGE_SIZE or token is not None:
            break
    more = group <= last
    return rows, Cursor(group, cursor.offset + len(rows), token) if more else None


async def load_board(
    client: Client,
    flt: TicketFilter,
    cursor: Cursor | None = None,
    sort: str = "deadline",
    cache: StatusCache | None = None,
    counts: TtlCache[int] | None = None,
) -> BoardPage:
    cursor = (
        cursor if cursor and not (flt.breached and cursor.group) else Cursor()
    )  # "breached" has one group
    cache = cache if cache is not None else StatusCache(ttl=0)
    counts = counts if counts is not None else TtlCache(ttl=0)
    calls = Calls()
    (rows, nxt), total, breached, parked = await asyncio.gather(
        _rows(client, flt, cursor, calls),
        _count(client, flt.visibility_query(), counts, calls),
        _count(client, f"{flt.visibility_query()} AND {GROUPS[0][1]}", counts, calls)
        if not flt.breached
        else asyncio.sleep(0),
        _count(client, PARKED, counts, calls),
    )
    breached = total if flt.breached else breached
    gate = asyncio.Semaphore(QUERY_CONCURRENCY)
    statuses = await asyncio.gather(
        *(_status(client, r.workflow_id, gate, cache, calls) for _, r in rows)
    )
    board = []
    for (group, r), s in zip(rows, statuses, strict=True):  # one status per row
        nd = next_deadline(s) if s else None
        board.append(BoardRow(r, s, nd[0] if nd else None, nd[1] if nd else None, group))
    return BoardPage(sort_board(board, sort), cursor, nxt, total, breached, parked, calls)


def sort_board(board: list[BoardRow], sort: str) -> list[BoardRow]:
    """Inside each SLA group: `deadline`, soonest first (overdue ones first),
    tickets without one last; `level`, highest escalation level first, then
    by deadline; `age`, longest open first."""

    def by_deadline(b: BoardRow) -> tuple:
        return (
            b.deadline is None,
            b.deadline.timestamp() if b.deadline else 0.0,
            b.row.workflow_id,
        )

    if sort == "level":
        return sorted(board, key=lambda b: (b.group, -(b.row.level or 0), *by_deadline(b)))
    if sort == "age":
        return sorted(
            board,
            key=lambda b: (
                b.group,
                b.opened_at is None,
                b.opened_at.timestamp() if b.opened_at else 0.0,
                b.row.workflow_id,
            ),
        )
    return sorted(board, key=lambda b: (b.group, *by_deadline(b)))
