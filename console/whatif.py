"""`/console/whatif`: the what-if report in the console, for a support lead
about to change a live SOP. Paste a draft pack (or pick one of the packs in
POLICIES_DIR), pick the period and inboxes, and see what `ticketflow whatif`
prints (dryrun/whatif.py): the pack in force and the draft side by side, the
tickets whose outcome changes with their Web UI links, the page-load
heatmap inline, and any difference between the replay and what happened.

Read only: a run writes nothing and calls nothing but Postgres. The replay
is CPU work, so it runs in a thread, one at a time (a second gets 429): the
bridge keeps taking webhooks. The
run is a POST from htmx (`HX-Request`, as every console POST), and the page
works under the console's CSP: no inline script or style, the heatmap is
SVG with presentation attributes only.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from console.auth import Operator
from console.pages import form_values
from console.state import Console
from dryrun.heatmap import heatmap_svg
from dryrun.whatif import compute, load, parse_since
from dryrun.whatif_report import rows
from engine.policy_loader import PolicyError, load_policy, parse_policy
from engine.yaml_loader import load_yaml
from models.policy import Policy

log = structlog.get_logger(__name__)
MAX_DRAFT_BYTES = 512 * 1024


def _draft(values: dict[str, str], policies_dir: Path) -> tuple[Policy | None, str | None]:
    """The draft pack from the pasted text, else the picked file; (pack, error)."""
    text = values.get("draft", "").strip()
    try:
        if text:
            if len(text) > MAX_DRAFT_BYTES:
                return None, f"the draft is larger than {MAX_DRAFT_BYTES // 1024} KiB"
            return parse_policy(load_yaml(text), source="draft"), None
        if values.get("pack"):
            return load_policy(values["pack"], policies_dir), None
    except PolicyError as exc:
        return None, str(exc)
    except Exception as exc:
        return None, f"draft: not valid YAML: {exc}"
    return None, "paste a draft pack or pick one"


def _inboxes(text: str) -> list[int] | None:
    ids = [int(x) for x in text.replace(",", " ").split() if x.isdigit()]
    return ids or None


def build_whatif_router() -> APIRouter:
    router = APIRouter(prefix="/console")
    running = asyncio.Lock()  # one replay at a time: it is CPU work in the bridge's process

    def gate(request: Request) -> tuple[Console, Operator] | Response:
        console: Console = request.app.state.console
        if not console.sessions.enabled:
            return JSONResponse(
                {"error": "the console is off: set CONSOLE_OPERATORS"}, status_code=404
            )
        op = console.sessions.operator(request)
        if op is None:
            login = "/console/login?next=/console/whatif"
            if request.headers.get("hx-request"):
                return Response(status_code=401, headers={"HX-Redirect": login})
            return RedirectResponse(login, status_code=303)
        return console, op

    def render(
        request: Request, console: Console, ctx: dict[str, Any], status_code: int = 200
    ) -> HTMLResponse:
        base = {
            "operator": console.sessions.operator(request),
            "people": console.packs.people(),
            "packs": console.packs.names(),
            "values": {"since": "30d"},
            "report": None,
            "error": None,
        }
        return console.templates.TemplateResponse(
            request, "whatif.html", {**base, **ctx}, status_code=status_code
        )

    @router.get("/whatif", response_class=HTMLResponse)
    async def whatif_form(request: Request) -> Response:
        gated = gate(request)
        if isinstance(gated, Response):
            return gated
        return render(request, gated[0], {})

    @router.post("/whatif", response_class=HTMLResponse)
    async def whatif_run(request: Request) -> Response:
        gated = gate(request)
        if isinstance(gated, Response):
            return gated
        console, op = gated
        if not request.headers.get("hx-request"):
            return JSONResponse(
                {"error": "what-if runs must come from the console page"}, status_code=403
            )
        values = await form_values(request)
        draft, error = _draft(values, console.settings.policies_dir)
        now = datetime.now(UTC)
        try:
            since = parse_since(values.get("since") or "30d", now)
        except ValueError:
            error = error or f"period: not 30d, 12h or an ISO 8601 date: {values.get('since')!r}"
        pool = await console.pool() if error is None else None
        if error is None and pool is None:
            error = "no DATABASE_URL: the recorded tickets are in Postgres"
        if error is not None:
            return render(request, console, {"values": values, "error": error}, 422)
        # No error: the draft parsed and the pool opened (each is checked above).
        assert draft is not None and pool is not None
        try:
            async with pool.acquire() as conn:
                data = await load(conn, draft.name, since, now, _inboxes(values.get("inbox", "")))
        except (TimeoutError, OSError) as exc:
            return render(request, console, {"values": values, "error": f"Postgres: {exc}"}, 503)
        if running.locked():
            return render(
                request,
                console,
                {"values": values, "error": "another what-if is running; try again in a minute"},
                429,
            )
        s = console.settings
        async with running:
            result = await asyncio.to_thread(
                compute,
                data,
                draft,
                since,
                now,
                ui_url=s.temporal_ui_url,
                namespace=s.temporal_namespace,
            )
        log.info(
            "console what-if",
            by=op.party,
            pack=draft.name,
            draft=draft.version,
            tickets=result.replayed,
            differences=len(result.differences),
            seconds=round(result.seconds, 2),
        )
        svg = heatmap_svg(
            result.current.heat, result.draft.heat, draft.timezone, f"draft {draft.version}"
        )
        return render(
            request,
            console,
            {"values": values, "report": result, "rows": rows(result), "heatmap": svg},
        )

    return router
