"""The console's board page (`/console`): one page of open tickets,
filtered (pack, owner, breached, VIP, the operator's own), sorted and paged
by cursor; the query and the caches are console/board.py's.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from temporalio.service import RPCError

from client.gateway import TemporalUnavailable
from client.tickets import TicketFilter
from console.board import GROUPS, SORTS, Cursor, load_board
from console.pages import Pages


def add_board_routes(router: APIRouter, pages: Pages) -> None:
    """GET /console."""
    console = pages.console
    page, who = pages.page, pages.who

    @router.get("", response_class=HTMLResponse)
    async def board(
        request: Request,
        policy: str = "",
        owner: str = "",
        breached: str = "",
        vip: str = "",
        mine: str = "",
        sort: str = "deadline",
        cursor: str = "",
    ) -> Response:
        """One page of the board (console/board.py); `mine`: the logged-in party's tickets."""
        op = who(request)
        if isinstance(op, Response):
            return op
        sort = sort if sort in SORTS else "deadline"
        flt = TicketFilter(
            breached=bool(breached),
            owner=op.party if mine else (owner or None),
            policy=policy or None,
            vip=bool(vip),
        )
        params = {
            k: v
            for k, v in {
                "policy": policy,
                "owner": owner,
                "breached": breached,
                "vip": vip,
                "mine": mine,
                "sort": sort,
            }.items()
            if v
        }
        board, error = None, None
        try:
            board = await load_board(
                await console.gateway.client(),
                flt,
                Cursor.decode(cursor),
                sort,
                console.statuses,
                console.counts,
            )
        except TemporalUnavailable as exc:
            error = str(exc)
        except RPCError as exc:
            error = f"Temporal visibility did not answer: {exc.message}"
        return page(
            request,
            "board.html",
            {
                "board": board,
                "rows": board.rows if board else [],
                "error": error,
                "flt": flt,
                "sort": sort,
                "sorts": SORTS,
                "groups": [g for g, _ in GROUPS],
                "mine": bool(mine),
                "packs": console.packs.names(),
                "page_url": lambda c=None: (
                    "/console?" + urlencode({**params, **({"cursor": c.encode()} if c else {})})
                ),
            },
        )
