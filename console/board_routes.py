"""The console's board page (`/console`): one page of open tickets,
filtered (pack, owner, breached, VIP, the operator's own), sorted and paged
by cursor; the query and the caches are console/board.py's. Above the rows,
a banner names any outside system the workers find failing
(console/system_health.py), fetched while the board loads.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from temporalio.service import RPCError

from client.gateway import TemporalUnavailable
from client.tickets import TicketFilter
from console.board import GROUPS, SORTS, BoardPage, Cursor, load_board
from console.pages import Pages
from console.system_health import HealthSource, SystemHealth

log = structlog.get_logger(__name__)


def add_board_routes(router: APIRouter, pages: Pages) -> None:
    """GET /console."""
    console = pages.console
    page, who = pages.page, pages.who

    def health_source(request: Request) -> HealthSource:
        """The app's source of the banner (`app.state.system_health`; tests set their own),
        made from WORKER_METRICS_URLS on first use."""
        state = request.app.state
        source = getattr(state, "system_health", None)
        if source is None:
            source = state.system_health = SystemHealth(console.settings.worker_metrics_url_list)
        return source

    async def banners(request: Request) -> list[str]:
        try:
            return await health_source(request).banners()
        except Exception:  # the banner must never cost the board
            log.exception("console: system health banner failed")
            return []

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

        async def load() -> tuple[BoardPage | None, str | None]:
            try:
                return await load_board(
                    await console.gateway.client(),
                    flt,
                    Cursor.decode(cursor),
                    sort,
                    console.statuses,
                    console.counts,
                ), None
            except TemporalUnavailable as exc:
                return None, str(exc)
            except RPCError as exc:
                return None, f"Temporal visibility did not answer: {exc.message}"

        (board, error), health = await asyncio.gather(load(), banners(request))
        return page(
            request,
            "board.html",
            {
                "health": health,
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
