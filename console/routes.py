"""The operator console's pages, mounted on the bridge at /console.

Server-rendered (Jinja2) with htmx for partial updates: filters swap the
board's rows, actions swap the ticket panel. Every POST needs htmx's
`HX-Request` header, which a cross-site form cannot send (with the Lax
cookie and the cross-origin guard of console/security.py, that is the
console's CSRF guard). Headers, framing: console/security.py; login
throttling: console/throttle.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import asyncpg
import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from temporalio.client import WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError, RPCStatusCode

from client.gateway import TemporalGateway, TemporalUnavailable
from client.tickets import TicketFilter, age, chatwoot_link, next_deadline, time_left, ui_link, when
from console import actions as console_actions
from console.applicable import verdicts
from console.auth import COOKIE, SESSION_SECONDS, Operator, Sessions, parse_operators
from console.board import GROUPS, QUERY_TIMEOUT, SORTS, Cursor, StatusCache, TtlCache, load_board
from console.packs import Packs, escalation_form
from console.security import (
    CHATWOOT_PREFIX,
    ConsoleSecurity,
    allow_chatwoot_framing,
    origin_of,
    under,
)
from console.throttle import LoginThrottle, client_key
from infra import db
from infra.settings import Settings
from models.status import TicketStatus
from workflows.ticket import TicketWorkflow

log = structlog.get_logger(__name__)
HERE = Path(__file__).resolve().parent
AUDIT_ROWS = 50


class Console:
    """What the pages share: settings, the bridge's Temporal gateway, a lazily
    opened Postgres pool for audit rows, the packs, the sessions and the
    login throttle (replace `throttle` to give it another clock)."""

    def __init__(self, settings: Settings, gateway: TemporalGateway, *, dev_mode: bool) -> None:
        self.settings = settings
        self.gateway = gateway
        self.dev_mode = dev_mode
        self.sessions = Sessions(parse_operators(settings), dev_mode=dev_mode)
        self.packs = Packs(settings.policies_dir)
        self.statuses = StatusCache()
        self.counts: TtlCache[int] = TtlCache()
        self.throttle = LoginThrottle()
        self.chatwoot_origin = origin_of(settings.chatwoot_base_url)
        self._pool: asyncpg.Pool | None = None
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.globals.update(
            time_left=time_left,
            when=when,
            ui_link=lambda wid: ui_link(settings, wid),
            chatwoot_link=lambda wid: chatwoot_link(settings, wid),
            next_deadline=next_deadline,
            dev_mode=dev_mode,
            escalation_form_for=escalation_form,
            age=age,
        )

    async def pool(self) -> asyncpg.Pool | None:
        if self._pool is None and self.settings.database_url is not None:
            self._pool = await db.create_pool(
                self.settings.database_url.get_secret_value(), min_size=0, max_size=4
            )
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def audit_rows(self, wid: str) -> tuple[list[dict], str | None]:
        try:
            pool = await self.pool()
            if pool is None:
                return [], "no DATABASE_URL: audit rows are not available"
            rows = await pool.fetch(
                "SELECT action, target, details, at_time FROM ticket_events WHERE workflow_id = $1 "
                "ORDER BY at_time DESC, id DESC LIMIT $2",
                wid,
                AUDIT_ROWS,
            )
            return [dict(r) for r in rows], None
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("console: audit rows unavailable", error=type(exc).__name__)
            return [], f"audit rows unavailable ({type(exc).__name__})"


async def form_values(request: Request) -> dict[str, str]:
    """An urlencoded form body (what htmx sends) without python-multipart."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))


def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/console") and "//" not in value else "/console"


def build_router(console: Console) -> APIRouter:
    router = APIRouter(prefix="/console")
    t = console.templates

    def page(
        request: Request,
        name: str,
        ctx: dict[str, Any],
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        base = {"operator": console.sessions.operator(request), "people": console.packs.people()}
        return t.TemplateResponse(
            request, name, {**base, **ctx}, status_code=status_code, headers=headers
        )

    def login_page(
        request: Request,
        nxt: str,
        error: str | None,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        return page(
            request,
            "login.html",
            {"next": back_to(request, nxt), "error": error},
            status_code,
            headers,
        )

    def back_to(request: Request, nxt: str) -> str:
        """`nxt`; when it leads back to the Dashboard App, this response (logging in or out
        inside Chatwoot's tab) may be framed as the app is."""
        if under(nxt, CHATWOOT_PREFIX):
            allow_chatwoot_framing(request)
        return nxt

    def who(request: Request) -> Operator | Response:
        if not console.sessions.enabled:
            return JSONResponse(
                {"error": "the console is off: set CONSOLE_OPERATORS"}, status_code=404
            )
        op = console.sessions.operator(request)
        if op is not None:
            return op
        here = str(request.url.path) + ("?" + request.url.query if request.url.query else "")
        login = f"/console/login?next={quote(here)}"
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": login})
        return RedirectResponse(login, status_code=303)

    async def status_of(wid: str) -> tuple[TicketStatus | None, str | None]:
        try:
            client = await console.gateway.client()
            status = await client.get_workflow_handle(wid).query(
                TicketWorkflow.status, rpc_timeout=QUERY_TIMEOUT
            )
            console.statuses.put(wid, status)
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
            status, error = await status_of(wid)
        audit, audit_error = await console.audit_rows(wid) if status else ([], None)
        pack = console.packs.get(status.policy) if status else None
        reasons = sorted(pack.escalations) if pack else []
        return page(
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
                "parties": console.packs.parties(status.policy) if status else [],
                "can": verdicts(status, reasons) if status else {},
            },
        )

    @router.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, next: str | None = None) -> Response:
        if not console.sessions.enabled:
            return JSONResponse(
                {"error": "the console is off: set CONSOLE_OPERATORS"}, status_code=404
            )
        return login_page(request, _safe_next(next), None)

    @router.post("/login")
    async def login(request: Request) -> Response:
        if not console.sessions.enabled:
            return JSONResponse(
                {"error": "the console is off: set CONSOLE_OPERATORS"}, status_code=404
            )
        values = await form_values(request)
        nxt = back_to(request, _safe_next(values.get("next")))
        client = client_key(request.client.host if request.client else None)
        wait = console.throttle.retry_after(client)
        if wait is not None:
            log.warning(
                "console login throttled", client=client, retry_after=wait
            )  # never the token
            return login_page(
                request,
                nxt,
                f"too many failed logins: try again in {-(-wait // 60)} minute(s)",
                429,
                {"Retry-After": str(wait)},
            )
        if console.dev_mode and not console.sessions.login(values.get("token", "")):
            party = values.get("party", "")
            op = Operator(party) if party in dict(console.packs.people()) else None
        else:
            op = console.sessions.login(values.get("token", ""))
        if op is None:
            failures = console.throttle.failed(client)
            log.warning(
                "console login refused", client=client, failures=failures
            )  # never the token
            return login_page(request, nxt, "unknown token", 401)
        console.throttle.succeeded(client)
        log.info("console login", party=op.party, client=client)
        resp = RedirectResponse(nxt, status_code=303)
        resp.set_cookie(
            COOKIE,
            console.sessions.cookie_for(op),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/console",
        )
        return resp

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        in_app = under(
            back_to(request, _safe_next((await form_values(request)).get("next"))), CHATWOOT_PREFIX
        )
        resp = RedirectResponse(
            "/console/login" + (f"?next={CHATWOOT_PREFIX}" if in_app else ""), status_code=303
        )
        resp.delete_cookie(
            COOKIE,
            path="/console",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return resp

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

    return router


def mount_console(
    app: FastAPI, settings: Settings, gateway: TemporalGateway, *, dev_mode: bool
) -> Console:
    """Add /console (pages and vendored static files) to the bridge app, and
    console/security.py's middleware, which puts the console's security
    headers on its responses and `nosniff` on every other response."""
    console = Console(settings, gateway, dev_mode=dev_mode)
    app.add_middleware(ConsoleSecurity, chatwoot_origin=console.chatwoot_origin)
    app.include_router(build_router(console))
    app.mount("/console/static", StaticFiles(directory=str(HERE / "static")), name="console-static")
    app.state.console = console
    app.router.on_shutdown.append(
        console.close
    )  # the audit pool, when the server runs its lifespan
    if not console.sessions.enabled:
        log.info("operator console off (set CONSOLE_OPERATORS to enable it)")
    elif console.chatwoot_origin is None:
        log.info(
            "console: no CHATWOOT_BASE_URL, so no other origin may frame /console/chatwoot "
            "(set it to use the Chatwoot Dashboard App)"
        )
    return console
