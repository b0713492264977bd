"""Browser hardening for the console: response headers and the cross-origin
POST guard, in one ASGI middleware that `mount_console` installs on the
bridge app.

Why: the console is an admin tool whose buttons change live tickets, and it
shows customer-supplied text (names, labels, messages). So a browser is told
to run only the console's own files and to keep the pages out of other
sites' hands:

- `Content-Security-Policy`: scripts, styles, fetches and form posts only
  from the console's own origin, no inline script or style and no eval
  (base.html tells htmx not to need them), so a template that ever forgot to
  escape a customer's name still could not run script;
- framing: `frame-ancestors 'none'` (and `X-Frame-Options: DENY` for old
  browsers) so no other page, not even one on the same site, can lay the
  action buttons under a decoy (clickjacking). The Dashboard App pages under
  /console/chatwoot may be framed by Chatwoot's origin only
  (CHATWOOT_BASE_URL), or, when that is unset, by nothing but the console's
  own origin; a route may give one response the same rule
  (`allow_chatwoot_framing`, the login page on the way back to the app);
- `X-Content-Type-Options: nosniff` on every response of the bridge (the
  webhook endpoints are JSON APIs and need nothing else), `Referrer-Policy:
  same-origin` (ticket ids in console URLs do not travel to the Temporal Web
  UI or Chatwoot links), `Cache-Control: no-store` on pages (ticket data does
  not outlive the session in a shared cache or the disk cache);
- a state-changing request to /console from another origin is refused with
  403: the browser's `Sec-Fetch-Site` decides (it cannot be set by a page
  and survives proxies that rewrite `Host`); a browser too old to send it is
  judged by `Origin` against `Host`; a request with neither header comes
  from no browser, so no other site can have sent it in a user's name.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger(__name__)

PREFIX = "/console"
CHATWOOT_PREFIX = "/console/chatwoot"
STATIC_PREFIX = "/console/static/"
POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "object-src 'none'",
)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_STATE_KEY = "console_frame_ancestors"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: object | None) -> str | None:
    """scheme://host[:port] of a URL (CHATWOOT_BASE_URL), the form a browser
    gives `event.origin` and a CSP source takes; None for no URL."""
    if not url:
        return None
    parts = urlsplit(str(url))
    if not parts.scheme or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = f":{parts.port}" if parts.port and parts.port != _DEFAULT_PORTS.get(parts.scheme) else ""
    return f"{parts.scheme}://{host}{port}"


def under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/") or path.startswith(prefix + "?")


def content_security_policy(frame_ancestors: str) -> str:
    return "; ".join([*POLICY, f"frame-ancestors {frame_ancestors}"])


def allow_chatwoot_framing(request: Request) -> None:
    """Let this one response be framed as the Dashboard App is (the login page
    whose `next` leads back to /console/chatwoot)."""
    setattr(request.state, _STATE_KEY, "chatwoot")  # scope["state"], which the middleware reads


def cross_origin(headers: Headers) -> str | None:
    """Why a state-changing request is not from the console's own pages, or None."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return None if site in ("same-origin", "none") else f"Sec-Fetch-Site: {site}"
    origin = headers.get("origin")
    if origin is None:
        return None
    if origin == "null" or urlsplit(origin).netloc.lower() != headers.get("host", "").lower():
        return f"Origin: {origin}"
    return None


class ConsoleSecurity:
    """The middleware: headers on every response, the guard on /console POSTs."""

    def __init__(self, app: ASGIApp, chatwoot_origin: str | None = None) -> None:
        self.app = app
        self.chatwoot_ancestors = chatwoot_origin or "'self'"

    def headers_for(self, scope: Scope) -> dict[str, str]:
        path = scope["path"]
        if not under(path, PREFIX):
            return {"X-Content-Type-Options": "nosniff"}
        out = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
        if under(path, CHATWOOT_PREFIX) or scope.get("state", {}).get(_STATE_KEY) == "chatwoot":
            out["Content-Security-Policy"] = content_security_policy(self.chatwoot_ancestors)
        else:
            out["Content-Security-Policy"] = content_security_policy("'none'")
            out["X-Frame-Options"] = "DENY"
            out["Cross-Origin-Opener-Policy"] = "same-origin"
        return out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers.update(self.headers_for(scope))
                if under(scope["path"], PREFIX) and not scope["path"].startswith(STATIC_PREFIX):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        if under(scope["path"], PREFIX) and scope["method"] not in SAFE_METHODS:
            why = cross_origin(Headers(scope=scope))
            if why:
                client = scope.get("client")
                log.warning(
                    "console: cross-origin request refused",
                    path=scope["path"],
                    why=why,
                    client=client[0] if client else None,
                )
                refused = JSONResponse({"error": "cross-origin request refused"}, status_code=403)
                await refused(scope, receive, send_with_headers)
                return
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if under(scope["path"], PREFIX) and not started:  # the 500 carries the headers too
                await PlainTextResponse("Internal Server Error", status_code=500)(
                    scope, receive, send_with_headers
                )
            raise
