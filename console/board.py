"""The board: open tickets from Temporal visibility, with each ticket's next
deadline from its `status` query.

Cost: one visibility list call, then one query per listed ticket, at most
QUERY_CONCURRENCY at a time and each bounded by QUERY_TIMEOUT, so a ticket
whose worker is down shows "status unavailable" instead of stalling the
page. Queries run on the worker (the stack's bottleneck), so answers are
shared for STATUS_TTL across every open board: ten operators refreshing
cost what one does. An action taken in the console replaces its ticket's
entry at once. (Visibility alone cannot sort by deadline: there is no
deadline search attribute, and adding one would change every live
ticket's history.)
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.client import Client, WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError

from models.status import TicketStatus
from client.tickets import TicketFilter, TicketRow, list_tickets, next_deadline
from workflows.ticket import TicketWorkflow

QUERY_CONCURRENCY = 16
QUERY_TIMEOUT = timedelta(seconds=3)
BOARD_LIMIT = 200
STATUS_TTL = 10.0  # seconds; countdowns tick in the browser, so only state changes wait for it


@dataclass
class BoardRow:
    row: TicketRow
    status: TicketStatus | None
    deadline: datetime | None = None
    deadline_title: str | None = None

    @property
    def vip(self) -> bool:
        return bool(self.status.vip if self.status else self.row.vip)

    @property
    def breached(self) -> bool:
        return (self.status.sla_state if self.status else self.row.sla_state) == "breached"


class StatusCache:
    """Ticket statuses shared by every board for STATUS_TTL seconds."""

    def __init__(self, ttl: float = STATUS_TTL, max_entries: int = 5000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, TicketStatus]] = {}

    def get(self, wid: str) -> TicketStatus | None:
        hit = self._entries.get(wid)
        return hit[1] if hit and hit[0] > time.monotonic() else None

    def put(self, wid: str, status: TicketStatus) -> None:
        if len(self._entries) >= self.max_entries:
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[wid] = (time.monotonic() + self.ttl, status)


async def _status(client: Client, wid: str, gate: asyncio.Semaphore, cache: StatusCache) -> TicketStatus | None:
    cached = cache.get(wid)
    if cached is not None:
        return cached
    async with gate:
        try:
            status = await client.get_workflow_handle(wid).query(TicketWorkflow.status, rpc_timeout=QUERY_TIMEOUT)
        except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError, asyncio.TimeoutError):
            return None  # worker down or ticket just finished: the row shows visibility's view
    cache.put(wid, status)
    return status


async def load_board(client: Client, flt: TicketFilter, sort: str = "deadline",
                     cache: StatusCache | None = None) -> list[BoardRow]:
    rows = await list_tickets(client, flt, BOARD_LIMIT)
    gate = asyncio.Semaphore(QUERY_CONCURRENCY)
    cache = cache if cache is not None else StatusCache(ttl=0)
    statuses = await asyncio.gather(*(_status(client, r.workflow_id, gate, cache) for r in rows))
    board = []
    for r, s in zip(rows, statuses):
        nd = next_deadline(s) if s else None
        board.append(BoardRow(r, s, nd[0] if nd else None, nd[1] if nd else None))
    return sort_board(board, sort)


def sort_board(board: list[BoardRow], sort: str) -> list[BoardRow]:
    """`deadline`: soonest first (overdue ones first), tickets without one last;
    `level`: highest escalation level first, then by deadline."""
    def by_deadline(b: BoardRow) -> tuple:
        return (b.deadline is None, b.deadline.timestamp() if b.deadline else 0.0, b.row.workflow_id)

    if sort == "level":
        return sorted(board, key=lambda b: (-(b.row.level or 0), *by_deadline(b)))
    return sorted(board, key=by_deadline)
