"""The console inside Chatwoot, as a Dashboard App: `/console/chatwoot`
is the page Chatwoot frames (it reads the open conversation from Chatwoot's
postMessage), and `/console/chatwoot/panel` the compact ticket panel of
that conversation.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.pages import Pages


def add_chatwoot_routes(router: APIRouter, pages: Pages) -> None:
    """GET /console/chatwoot and /console/chatwoot/panel."""
    console = pages.console
    page, who, panel = pages.page, pages.who, pages.panel

    @router.get("/chatwoot", response_class=HTMLResponse)
    async def chatwoot_app(request: Request) -> Response:
        op = who(request)
        if isinstance(op, Response):
            return op
        return page(
            request,
            "chatwoot.html",
            {
                "chatwoot_origin": console.chatwoot_origin or "",
                "default_account": console.settings.chatwoot_account_id or 1,
            },
        )

    @router.get("/chatwoot/panel", response_class=HTMLResponse)
    async def chatwoot_panel(
        request: Request, conversation: int, account: int | None = None
    ) -> Response:
        op = who(request)
        if isinstance(op, Response):
            return op
        wid = f"ticket-{account or console.settings.chatwoot_account_id or 1}-{conversation}"
        return await panel(request, wid, compact=True)
