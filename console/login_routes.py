"""The console's login and logout: an operator token (or, in dev mode, a
party picked from the packs' people) buys a session cookie; failed logins
are throttled per client (console/throttle.py) and the token is never
logged. Login and logout inside Chatwoot's tab keep the Dashboard App
framable (console/security.py).
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from console.auth import COOKIE, SESSION_SECONDS, Operator
from console.pages import Pages, form_values
from console.security import CHATWOOT_PREFIX, under
from console.throttle import client_key

log = structlog.get_logger(__name__)


def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/console") and "//" not in value else "/console"


def add_login_routes(router: APIRouter, pages: Pages) -> None:
    """GET and POST /console/login, POST /console/logout."""
    console = pages.console
    login_page, back_to = pages.login_page, pages.back_to

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
