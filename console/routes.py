"""The operator console's pages, mounted on the bridge at /console.

Server-rendered (Jinja2) with htmx for partial updates: filters swap the
board's rows, actions swap the ticket panel. Every POST needs htmx's
`HX-Request` header, which a cross-site form cannot send (with the Lax
cookie and the cross-origin guard of console/security.py, that is the
console's CSRF guard). Headers, framing: console/security.py; login
throttling: console/throttle.py.

The pages' routes live by page (console/login_routes.py, board_routes.py,
search_routes.py, ticket_routes.py, chatwoot_routes.py) on helpers they share
(console/pages.py) and the `Console` they read (console/state.py); this
module puts them on one router and mounts it on the bridge.
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from client.gateway import TemporalGateway
from console.board_routes import add_board_routes
from console.chatwoot_routes import add_chatwoot_routes
from console.login_routes import add_login_routes
from console.pages import Pages, form_values
from console.search_routes import add_search_routes
from console.security import ConsoleSecurity
from console.state import HERE, Console
from console.ticket_routes import add_ticket_routes
from infra.settings import Settings

log = structlog.get_logger(__name__)

# Console and form_values moved to console/state.py and console/pages.py.
__all__ = ["Console", "build_router", "form_values", "mount_console"]


def build_router(console: Console) -> APIRouter:
    router = APIRouter(prefix="/console")
    pages = Pages(console)
    # In this order, the order routes are matched in.
    add_login_routes(router, pages)
    add_board_routes(router, pages)
    add_search_routes(router, pages)
    add_ticket_routes(router, pages)
    add_chatwoot_routes(router, pages)
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
