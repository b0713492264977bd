"""How an HTTP answer from a SaaS API becomes an activity outcome.

4xx that retrying cannot fix (bad token, unknown conversation, invalid
body) -> non-retryable ApplicationError with a clear type; 429 and 5xx ->
a retryable error (Temporal's retry policy backs off), honouring
Retry-After. Messages carry the status and the API's own error text, never
a request header (where the tokens are)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from temporalio.exceptions import ApplicationError

RETRYABLE = {408, 409, 425, 429, 500, 502, 503, 504}


def _api_error(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(body, dict):
        for key in ("error", "message", "errors"):
            if body.get(key):
                return str(body[key])[:300]
    return str(body)[:300]


def raise_for(service: str, resp: httpx.Response) -> None:
    if resp.status_code < 400:
        return
    what = (
        f"{service} {resp.request.method} {resp.request.url.path} -> {resp.status_code}: "
        f"{_api_error(resp)}"
    )
    if resp.status_code in RETRYABLE:
        delay = None
        retry_after = resp.headers.get("retry-after", "")
        if retry_after.isdigit():
            delay = timedelta(seconds=min(int(retry_after), 120))
        raise ApplicationError(what, type=f"{service}Unavailable", next_retry_delay=delay)
    kind = {
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        422: "Unprocessable",
        400: "BadRequest",
    }.get(resp.status_code, "Rejected")
    raise ApplicationError(what, type=f"{service}{kind}", non_retryable=True)
