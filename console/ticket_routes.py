"""The console's ticket page (`/console/tickets/<workflow id>`): the ticket
panel, its htmx refresh, the escalation form's fields for a reason, and
the CLI's actions on the ticket (console/actions.py), each answered with
the panel again.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from client.gateway import TemporalUnavailable
from console import actions as console_actions
from console.packs import escalation_form
from console.pages import Pages, form_values


def add_ticket_routes(router: APIRouter, pages: Pages) -> None:
    """GET /console/tickets/<wid>, its panel and escalate fields; POST its actions."""
    console = pages.console
    page, who, status_of, panel = pages.page, pages.who, pages.status_of, pages.panel

    @router.get("/tickets/{wid}", response_class=HTMLResponse)
    async def ticket_page(request: Request, wid: str) -> Response:
        op = who(request)
        if isinstance(op, Response):
            return op
        status, error = await status_of(wid)
        inner = await panel(request, wid, status=status, error=error)
        customer = status.card.customer if status and status.card else None
        return page(
            request,
            "ticket.html",
            {"wid": wid, "customer": customer, "panel": bytes(inner.body).decode()},
        )

    @router.get("/tickets/{wid}/panel", response_class=HTMLResponse)
    async def ticket_panel(request: Request, wid: str, compact: str = "") -> Response:
        op = who(request)
        if isinstance(op, Response):
            return op
        return await panel(request, wid, compact=bool(compact))

    @router.get("/tickets/{wid}/escalate-fields", response_class=HTMLResponse)
    async def escalate_fields(
        request: Request, wid: str, policy: str = "", reason: str = ""
    ) -> Response:
        op = who(request)
        if isinstance(op, Response):
            return op
        pack = console.packs.get(policy)
        form = escalation_form(pack, reason) if pack and reason else None
        return page(
            request,
            "_escalate_fields.html",
            {"form": form, "values": {}, "parties": console.packs.parties(policy)},
        )

    @router.post("/tickets/{wid}/{action}", response_class=HTMLResponse)
    async def act(request: Request, wid: str, action: str) -> Response:
        op = who(request)
        if isinstance(op, Response):
            return op
        if not request.headers.get("hx-request"):
            return JSONResponse(
                {"error": "console actions must come from the console page"}, status_code=403
            )
        values = await form_values(request)
        compact = bool(values.pop("compact", ""))
        status, error = await status_of(wid)
        if status is None:
            return await panel(request, wid, error=error, compact=compact)
        try:
            client = await console.gateway.client()
        except TemporalUnavailable as exc:
            return await panel(
                request,
                wid,
                status=status,
                errors={action: str(exc)},
                values=values,
                compact=compact,
            )
        out = await console_actions.perform(
            client, wid, action, op.party, values, console.packs, status.policy
        )
        if out.status is not None:
            console.statuses.put(wid, out.status)
        if out.error:
            return await panel(
                request,
                wid,
                status=status,
                errors={action: out.error},
                values=values,
                compact=compact,
            )
        return await panel(request, wid, status=out.status, notice=out.notice, compact=compact)
