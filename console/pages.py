"""What every console page handler does the same way: render a template
with the logged-in operator and the pack's people, show the login page,
send an anonymous visitor to it (`who`), ask a ticket for its status and
render the ticket panel (the ticket page, its htmx swaps and the Chatwoot
Dashboard App all show it); and read an htmx form body.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from temporalio.client import WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError, RPCStatusCode

from client.gateway import TemporalUnavailable
from console.applicable import verdicts
from console.auth import Operator
from console.board import QUERY_TIMEOUT
from console.security import CHATWOOT_PREFIX, allow_chatwoot_framing, under
from console.state import Console
from models.status import TicketStatus
from workflows.ticket import TicketWorkflow


async def form_values(request: Request) -> dict[str, str]:
    """An urlencoded form body (what htmx sends) without python-multipart."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))


class Pages:
    """The helpers the routes of every page share, bound to one `Console`."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.templates = console.templates

    def page(
        self,
        request: Request,
        name: str,
        ctx: dict[str, Any],
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        base = {
            "operator": self.console.sessions.operator(request),
            "people": self.console.packs.people(),
        }
        return self.templates.TemplateResponse(
            request, name, {**base, **ctx}, status_code=status_code, headers=headers
        )

    def login_page(
        self,
        request: Request,
        nxt: str,
        error: str | None,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        return self.page(
            request,
            "login.html",
            {"next": self.back_to(request, nxt), "error": error},
            status_code,
            headers,
        )

    def back_to(self, request: Request, nxt: str) -> str:
        """`nxt`; when it leads back to the Dashboard App, this response (logging in or out
        inside Chatwoot's tab) may be framed as the app is."""
        if under(nxt, CHATWOOT_PREFIX):
            allow_chatwoot_framing(request)
        return nxt

    def who(self, request: Request) -> Operator | Response:
        if not self.console.sessions.enabled:
            return JSONResponse(
                {"error": "the console is off: set CONSOLE_OPERATORS"}, status_code=404
            )
        op = self.console.sessions.operator(request)
        if op is not None:
            return op
        here = str(request.url.path) + ("?" + request.url.query if request.url.query else "")
        login = f"/console/login?next={quote(here)}"
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": login})
        return RedirectResponse(login, status_code=303)

    async def status_of(self, wid: str) -> tuple[TicketStatus | None, str | None]:
        try:
            client = await self.console.gateway.client()
            status = await client.get_workflow_handle(wid).query(
                TicketWorkflow.status, rpc_timeout=QUERY_TIMEOUT
            )
            self.console.statuses.put(wid, status)
            return status, None
        except TemporalUnavailable as exc:
            return None, str(exc)
        except (WorkflowQueryFailedError, WorkflowQueryRejectedError) as exc:
            return None, f"the ticket could not answer: {exc}"
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None, f"no such ticket: {wid}"
            return (
                None,
                f"the ticket did not answer ({exc.status.name if exc.status else 'error'}): "
                "is the worker running?",
            )

    async def panel(
        self,
        request: Request,
        wid: str,
        *,
        status: TicketStatus | None = None,
        error: str | None = None,
        errors: dict[str, str] | None = None,
        notice: str | None = None,
        values: dict[str, str] | None = None,
        compact: bool = False,
    ) -> HTMLResponse:
        if status is None and error is None:
            status, error = await self.status_of(wid)
        audit, audit_error = await self.console.audit_rows(wid) if status else ([], None)
        pack = self.console.packs.get(status.policy) if status else None
        reasons = sorted(pack.escalations) if pack else []
        return self.page(
            request,
            "_panel.html",
            {
                "wid": wid,
                "s": status,
                "error": error,
                "errors": errors or {},
                "notice": notice,
                "values": values or {},
                "audit": audit,
                "audit_error": audit_error,
                "pack": pack,
                "compact": compact,
                "reasons": reasons,
                "parties": self.console.packs.parties(status.policy) if status else [],
                "can": verdicts(status, reasons) if status else {},
            },
        )
