"""The console's search box (`/console/find?q=...`), in every page's header:
a ticket by the short id a page or a customer message prints (`AB12CD34`),
its Chatwoot conversation number, or its workflow id (client/ticket_lookup.py
finds it). Found: a redirect to its page; else a page that says what was
looked for and why nothing answered (404 unknown, 409 ambiguous, 503
Temporal unreachable).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from temporalio.service import RPCError

from client.gateway import TemporalUnavailable
from client.ticket_lookup import AmbiguousTicket, TicketNotFound, find_ticket
from console.pages import Pages
from infra.links import CONSOLE_TICKETS

MAX_QUERY = 200  # characters of a search kept (a workflow id is far shorter)


def add_search_routes(router: APIRouter, pages: Pages) -> None:
    """GET /console/find."""
    console = pages.console

    @router.get("/find", response_class=HTMLResponse)
    async def find(request: Request, q: str = "") -> Response:
        op = pages.who(request)
        if isinstance(op, Response):
            return op
        q = q.strip()[:MAX_QUERY]
        try:
            client = await console.gateway.client()
            wid = await find_ticket(client, q, console.settings.chatwoot_account_id)
        except TicketNotFound as exc:
            return _not_found(pages, request, q, str(exc), 404)
        except AmbiguousTicket as exc:
            return _not_found(pages, request, q, str(exc), 409)
        except TemporalUnavailable as exc:
            return _not_found(pages, request, q, str(exc), 503)
        except RPCError as exc:
            return _not_found(pages, request, q, f"Temporal did not answer: {exc.message}", 503)
        return RedirectResponse(CONSOLE_TICKETS + quote(wid, safe=""), status_code=303)


def _not_found(pages: Pages, request: Request, q: str, why: str, code: int) -> HTMLResponse:
    return pages.page(request, "find.html", {"q": q, "why": why}, status_code=code)
