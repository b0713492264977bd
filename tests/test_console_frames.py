"""The console's browser hardening in a real browser (Playwright driving
Debian's chromium): a page from another origin that frames the console
gets a blocked frame, not its action buttons, even with the operator logged
in and on the same site; Chatwoot's origin frames the Dashboard App, whose
operator logs in inside the tab, gets the conversation from Chatwoot and
acts; and no page breaks the Content-Security-Policy (no violation is
reported on the login page, the board, a ticket's page or the Dashboard
App while their actions are used).

Every origin is a server on 127.0.0.1 bound to port 0: the bridge, the
Chatwoot stand-in (CHATWOOT_BASE_URL) and the foreign page; same site, other
origins, so the session cookie reaches every frame and only the headers
keep the console out of the foreign one. Temporal is a stand-in here (one
ticket that takes actions): the actions against real tickets are
test_console_browser.py's. Skipped like it when chromium is missing.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
from types import SimpleNamespace
from typing import cast
from urllib.parse import quote

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from temporalio.client import Client

from client.gateway import TemporalGateway
from infra.http_server import InProcessServer
from infra.settings import Settings
from models.status import TicketStatus
from starter.bridge import create_app
from tests.helpers import CHROMIUM, HOW, choose_reason

try:
    from playwright.async_api import expect
except ImportError:  # pragma: no cover - the test extra pins it
    pytest.skip(HOW, allow_module_level=True)

pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=HOW)

TOKEN = "tok-alicia-frames-test-00001"
WID = "ticket-1-5"
# What Chatwoot posts to a Dashboard App (a JSON string) when asked with
# chatwoot-dashboard-app:fetch-info.
APP_CONTEXT = {
    "event": "appContext",
    "data": {
        "conversation": {"id": 5, "display_id": 5, "account_id": 1},
        "contact": {"id": 7, "name": "Omar Haddad"},
    },
}


class OneTicket:
    """Stands in for the Temporal client: one open VIP ticket, listed on the
    board, that answers its status query and takes any update."""

    def __init__(self) -> None:
        self.status = TicketStatus(
            ticket_id=WID, policy="vip-concierge", stage="open", vip=True, owner="lola"
        )

    def list_workflows(self, query: str, **_paging):
        """One page (what the board asks for: console/board.py), the ticket in each SLA group's."""

        async def memo():
            return {}

        async def fetch_next_page():
            ticket = SimpleNamespace(
                id=WID, typed_search_attributes={}, status=None, start_time=None, memo=memo
            )
            page.current_page = [ticket] if "SlaState IS NULL" in query else []

        page = SimpleNamespace(
            current_page=None, next_page_token=None, fetch_next_page=fetch_next_page
        )
        return page

    async def count_workflows(self, query: str, **_kwargs):
        return SimpleNamespace(count=1)

    def get_workflow_handle(self, wid: str) -> OneTicket:
        return self

    async def query(self, *_args, **_kwargs) -> TicketStatus:
        return self.status

    async def execute_update(self, update, arg, rpc_timeout=None) -> TicketStatus:
        self.status = self.status.model_copy(update={"stage": f"after {update.__name__}"})
        return self.status


async def framing_page(request: Request) -> HTMLResponse:
    """Another site's page: frames `src`, and answers the Dashboard App's
    fetch-info as Chatwoot does."""
    src = html.escape(request.query_params["src"])
    reply = json.dumps(json.dumps(APP_CONTEXT))
    return HTMLResponse(f"""<!doctype html><title>elsewhere</title>
<iframe src="{src}" width="1000" height="700"></iframe>
<script>
window.addEventListener("message", function (e) {{
  if (e.data === "chatwoot-dashboard-app:fetch-info") e.source.postMessage({reply}, "*");
}});
</script>""")


ELSEWHERE = Starlette(routes=[Route("/", framing_page)])


@contextlib.asynccontextmanager
async def serving(dev_mode: bool = False):
    """The bridge, Chatwoot and a foreign site, each on its own port (bound first, read back)."""
    chatwoot, foreign = InProcessServer(ELSEWHERE), InProcessServer(ELSEWHERE)
    settings = Settings(
        _env_file=None,
        webhook_token=SecretStr("t" * 24),
        temporal_address="nowhere:7233",
        console_operators=None if dev_mode else SecretStr(json.dumps({TOKEN: "alicia"})),
        chatwoot_base_url=chatwoot.url,
        chatwoot_account_id=1,
    )
    bridge = InProcessServer(
        create_app(
            settings, TemporalGateway(settings, client=cast(Client, OneTicket())), dev_mode=dev_mode
        )
    )
    servers = [chatwoot, foreign, bridge]
    try:
        for server in servers:
            await server.start()
        yield SimpleNamespace(bridge=bridge.url, chatwoot=chatwoot.url, foreign=foreign.url)
    finally:
        for server in servers:
            await server.stop()


@pytest.fixture
async def sites():
    async with serving() as urls:
        yield urls


def framed(site: str, url: str) -> str:
    return f"{site}/?src={quote(url, safe='')}"


def csp_violations(pg) -> list[str]:
    """What the browser reports against a Content-Security-Policy from now on."""
    seen: list[str] = []
    pg.on(
        "console",
        lambda msg: seen.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return seen


async def log_in(where, token: str = TOKEN) -> None:
    await where.locator("input[name=token]").fill(token)
    await where.get_by_role("button", name="Log in").click()


async def test_another_origin_framing_the_console_gets_no_actions(sites, page):
    await page.goto(f"{sites.bridge}/console/tickets/{WID}")
    await log_in(page)
    acknowledge = page.get_by_role("button", name="Acknowledge")
    await expect(acknowledge).to_be_visible()  # logged in: unframed, the ticket's actions are there
    for path in (f"/console/tickets/{WID}", "/console", "/console/login", "/console/chatwoot"):
        blocked = lambda m: "frame-ancestors" in m.text and "blocked" in m.text  # noqa: E731
        async with page.expect_console_message(blocked, timeout=10_000) as refused:
            await page.goto(framed(sites.foreign, sites.bridge + path))
        allowed = sites.chatwoot if path == "/console/chatwoot" else "'none'"
        assert f'"frame-ancestors {allowed}"' in (await refused.value).text, path
        frame = page.frame_locator("iframe")
        assert await frame.get_by_role("button").count() == 0, path
        assert not any(f.url.startswith(sites.bridge) for f in page.frames), path


async def test_chatwoot_frames_the_dashboard_app_which_logs_in_and_acts(sites, page):
    violations = csp_violations(page)
    await page.goto(framed(sites.chatwoot, f"{sites.bridge}/console/chatwoot"))
    app = page.frame_locator("iframe")
    await log_in(app)  # the login page comes up inside Chatwoot's tab, and leads back to the app
    await expect(app.locator("#waiting")).to_contain_text(
        "Conversation #5 · Omar Haddad"
    )  # Chatwoot's appContext
    panel = app.locator("#panel")
    await expect(panel.locator("h1")).to_contain_text(WID)
    await panel.get_by_role("button", name="Acknowledge").click()
    await expect(panel.locator(".notice")).to_have_text("Acknowledged as alicia.")
    await expect(panel).to_have_class("panel compact")
    await app.get_by_role("button", name="Log out").click()
    await expect(
        app.locator("input[name=token]")
    ).to_be_visible()  # still inside the tab, ready to log in again
    assert violations == []


async def test_no_page_breaks_the_content_security_policy(sites, page):
    violations = csp_violations(page)
    await page.goto(f"{sites.bridge}/console")
    await log_in(page, "wrong-token-000000000000")
    await expect(page.locator(".refusal")).to_have_text("unknown token")
    await log_in(page)
    row = page.locator(f'tr[data-ticket="{WID}"]')
    await expect(row).to_contain_text("lola")
    await page.check("input[name=vip]")  # an htmx filter swap
    await expect(page).to_have_url(re.compile(r"/console\?.*vip=1"))
    await row.get_by_role("link", name=WID).click()
    panel = page.locator("#panel")
    await panel.get_by_role("button", name="Acknowledge").click()
    await expect(panel.locator(".notice")).to_have_text("Acknowledged as alicia.")
    form = panel.locator(".handoff-form")
    await choose_reason(
        panel, "refund_over_200", form, "Over-authority escalation"
    )  # the typed form, by htmx
    for field in ("issue_summary", "alicia_already_tried"):
        await form.locator(f"textarea[name='payload.{field}']").fill("the refund")
    await form.locator("select[name='payload.customer_emotional_state']").select_option("calm")
    await panel.get_by_role("button", name="Escalate").click()
    await expect(panel.locator(".notice")).to_have_text("Escalated as alicia.")
    await page.get_by_role("button", name="Log out").click()
    await expect(page.locator("input[name=token]")).to_be_visible()
    assert violations == []


async def test_dev_mode_person_picker_works_without_inline_script(page):
    violations = csp_violations(page)
    async with serving(dev_mode=True) as sites:
        await page.goto(f"{sites.bridge}/console")
        await page.locator("#act-as").select_option("lola")  # console.js submits it
        await expect(page.locator("#act-as")).to_have_value("lola")
        await expect(page.locator("#act-as option[value='']")).to_have_count(
            0
        )  # now acting as someone
    assert violations == []
