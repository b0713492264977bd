"""The operator console in a real browser (Playwright driving Debian's
chromium) against a real Temporal dev server, worker and Postgres: log in,
the board and its filters, the live countdown, a ticket's page and its
actions (acknowledge, the typed escalation form, a refused decision), the
Chatwoot Dashboard App page fed a synthetic `appContext` message, and a
ticket's and a handoff's boards in the Temporal Web UI.

Skipped, with a message saying how to enable it, when chromium is missing.
Every run also rewrites the manual's console screenshots in docs/img/, so
they show the console as it is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.worker import Worker

from activities.policy import policy_activities
from infra.environments import local_environment, ui_address
from infra.http_server import InProcessServer
from infra.settings import Settings
from models.ticket import Contact
from models.ticket_input import TicketInput
from sandbox.recording import Recorder, recording_activities
from starter.bridge import create_app
from dryrun.simulate import terminate_ticket_tree
from client.gateway import TemporalGateway, for_web_ui
from client.tickets import send_update
from models import search_attributes
from models.signals import Escalate
from tests.conftest import POLICIES_DIR
from tests.helpers import eventually
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
HOW = ("browser tests skipped: no chromium. Install Debian's (`apt-get install -y chromium`; `.ci/run` does it "
       "when run as root) or point CHROMIUM at a Chromium binary")
try:
    from playwright.async_api import async_playwright, expect
except ImportError:  # pragma: no cover - the test extra pins it
    async_playwright = None

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(async_playwright is None or not os.access(CHROMIUM, os.X_OK), reason=HOW)]

TOKEN = "tok-alicia-browser-test-0001"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "img"
ACCOUNT = 9


@pytest.fixture
async def console(dev_env, pg_pool, postgres_dsn, task_queue):
    """A worker, three tickets and the bridge (with the console) on a free port."""
    convs = [uuid.uuid4().int % 10**6 + 1 for _ in range(3)]
    wids = [f"ticket-{ACCOUNT}-{c}" for c in convs]
    rec = Recorder()
    settings = Settings(_env_file=None, temporal_address=dev_env.client.service_client.config.target_host,
                        webhook_token=SecretStr("t" * 24), console_operators=SecretStr(json.dumps({TOKEN: "alicia"})),
                        database_url=SecretStr(postgres_dsn), chatwoot_base_url="http://chatwoot.example",
                        chatwoot_account_id=ACCOUNT, temporal_ui_url="http://ui.example:8233")
    app = create_app(settings, TemporalGateway(settings, client=dev_env.client))
    server = await InProcessServer(app).start()
    async with Worker(dev_env.client, task_queue=task_queue, workflows=[TicketWorkflow, HandoffWorkflow],
                      activities=[*policy_activities(POLICIES_DIR), *recording_activities(rec, pg_pool)]):
        contacts = [("vip-concierge", Contact(name="Dana Whitfield", vip=True)),
                    ("vip-concierge", Contact(name="Omar Haddad", vip=True)),
                    ("ops-ladder", Contact(name="Lee Park"))]
        try:
            for wid, conv, (policy, contact) in zip(wids, convs, contacts):
                handle = await dev_env.client.start_workflow(
                    TicketWorkflow.run, TicketInput(account_id=ACCOUNT, conversation_id=conv, policy=policy,
                                                    contact=contact), id=wid, task_queue=task_queue)
                await eventually(lambda: handle.query(TicketWorkflow.status), lambda s: s.stage != "starting")
            # Visibility is eventually consistent: the board lists what a visibility call lists.
            listed = f"WorkflowId IN ({', '.join(repr(w) for w in wids)}) AND ExecutionStatus = 'Running'"
            await eventually(lambda: dev_env.client.count_workflows(listed), lambda c: c.count == len(wids))
            yield server.url, wids, convs
        finally:
            for wid in wids:
                await terminate_ticket_tree(dev_env.client, wid, "test cleanup")
            await server.stop()
            await app.state.console.close()


@pytest.fixture
async def page():
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        ctx = await browser.new_context(viewport={"width": 1280, "height": 860})
        ctx.set_default_timeout(20_000)
        pg = await ctx.new_page()
        yield pg
        await browser.close()


async def choose_reason(panel, reason: str, form, title: str) -> None:
    """Pick an escalation reason and wait for its typed form. On a busy
    machine the change can fire before htmx has bound the freshly swapped
    panel; a person never picks that fast, so pick again rather than fail."""
    select = panel.locator("select[name=reason]")
    for _ in range(3):
        await select.select_option(reason)
        try:
            await expect(form).to_contain_text(title, timeout=7_000)
            return
        except AssertionError:
            await panel.page.reload()  # a fresh page: htmx binds it before anyone can pick
            await expect(select).to_be_visible()
    await expect(form).to_contain_text(title)


async def shot(page, name: str, height: int = 860) -> None:
    """Rewrite one of the manual's screenshots (docs/img/), cropped to `height`."""
    await page.screenshot(path=str(SCREENSHOTS / name), clip={"x": 0, "y": 0, "width": 1280, "height": height})


async def test_board_ticket_actions_and_countdown(console, page):
    url, (vip_a, vip_b, plain), _ = console
    await page.goto(f"{url}/console")
    await expect(page).to_have_url(re.compile(r"/console/login\?next="))
    await page.fill("input[name=token]", TOKEN)
    await page.click("button[type=submit]")
    await expect(page.locator("header .who")).to_contain_text("alicia")

    # The board: all three tickets (visibility catches up within a second or so).
    rows = page.locator("tr.ticket-row")
    for wid in (vip_a, vip_b, plain):
        await expect(page.locator(f'tr[data-ticket="{wid}"]')).to_have_count(1)
    row = page.locator(f'tr[data-ticket="{vip_a}"]')
    await expect(row).to_contain_text("vip-concierge")
    await expect(row.locator(".vip")).to_have_text("VIP")
    await expect(row.get_by_role("link", name="Temporal")).to_have_attribute(
        "href", f"http://ui.example:8233/namespaces/default/workflows/{vip_a}")
    await expect(row.get_by_role("link", name="Chatwoot")).to_have_attribute(
        "href", re.compile(rf"http://chatwoot.example/app/accounts/{ACCOUNT}/conversations/\d+$"))

    # The countdown is live: it reads "in …" and changes by itself.
    countdown = row.locator(".countdown")
    await expect(countdown).to_have_text(re.compile(r"^in (\d+h )?\d+m \d+s$"))
    before = await countdown.text_content()
    await expect(countdown).not_to_have_text(before)

    # Filters: VIP only hides the ops-ladder ticket; the pack filter keeps only it.
    await page.check("input[name=vip]")
    await expect(page.locator(f'tr[data-ticket="{plain}"]')).to_have_count(0)
    await expect(page.locator(f'tr[data-ticket="{vip_a}"]')).to_have_count(1)
    await expect(page).to_have_url(re.compile(r"vip=1"))
    await page.uncheck("input[name=vip]")
    await page.select_option("select[name=policy]", "ops-ladder")
    await expect(page.locator(f'tr[data-ticket="{vip_a}"]')).to_have_count(0)
    await expect(page.locator(f'tr[data-ticket="{plain}"]')).to_have_count(1)
    await page.select_option("select[name=policy]", "")
    await expect(rows.filter(has=page.locator(f'a:text("{vip_b}")'))).to_have_count(1)

    # A ticket's page: acknowledge as the logged-in operator.
    await page.click(f'a[href="/console/tickets/{vip_a}"]')
    panel = page.locator("#panel")
    await expect(panel.locator("h1")).to_contain_text(vip_a)
    await expect(panel.locator("table.clocks")).to_contain_text("VIP first acknowledgment")
    await panel.get_by_role("button", name="Acknowledge").click()
    await expect(panel.locator(".notice")).to_have_text("Acknowledged as alicia.")
    await expect(panel.locator(".stage")).to_have_text("acknowledged")

    # Escalate with the typed form generated from the pack's handoff spec.
    form = panel.locator(".handoff-form")
    await choose_reason(panel, "refund_over_200", form, "Over-authority escalation")
    await expect(form.locator(".filled")).to_contain_text(["chatwoot conv id"])
    await form.locator("textarea[name='payload.issue_summary']").fill("Refund of $340 for a damaged order")
    await form.locator("textarea[name='payload.alicia_already_tried']").fill("checked the order history")
    await form.locator("select[name='payload.customer_emotional_state']").select_option("frustrated")
    await panel.get_by_role("button", name="Escalate").click()
    await expect(panel.locator(".notice")).to_have_text("Escalated as alicia.")
    await expect(panel.locator("table.handoffs")).to_contain_text("Over-authority escalation")
    await expect(panel.locator("table.handoffs")).to_contain_text("alliyson")

    # A bad decision: the handoff wants an acknowledgement; the validator's refusal shows next to the form.
    await panel.locator("input[name=decision]").fill("engage")
    await panel.get_by_role("button", name="Send answer").click()
    refusal = panel.locator('.refusal[data-action="decide"]')
    await expect(refusal).to_contain_text("acknowledged, not decided")
    await expect(panel.locator("input[name=decision]")).to_have_value("engage")  # the form keeps what was typed
    await expect(panel.locator("table.audit")).to_contain_text("escalat")  # Postgres audit rows
    await expect(panel.locator("table.ladder")).not_to_contain_text("nothing yet")
    await shot(page, "console-ticket.png")
    await page.goto(f"{url}/console")
    await expect(page.locator(f'tr[data-ticket="{vip_a}"]')).to_contain_text("escalated")
    await shot(page, "console-board.png", height=260)


async def test_chatwoot_dashboard_app(console, page):
    url, (vip_a, vip_b, _), convs = console
    await page.goto(f"{url}/console/login")
    await page.fill("input[name=token]", TOKEN)
    await page.click("button[type=submit]")
    await page.goto(f"{url}/console/chatwoot")
    await expect(page.locator("#waiting")).to_contain_text("Waiting for the conversation")
    # What Chatwoot posts to a dashboard app: a JSON string with event "appContext".
    context = {"event": "appContext", "data": {
        "conversation": {"id": convs[1], "display_id": convs[1], "account_id": ACCOUNT, "status": "open"},
        "contact": {"id": 7, "name": "Omar Haddad"}, "currentAgent": {"id": 3, "name": "Alicia"}}}
    await page.evaluate("ctx => window.postMessage(JSON.stringify(ctx), '*')", context)
    panel = page.locator("#panel")
    await expect(panel.locator("h1")).to_contain_text(vip_b)
    await expect(page.locator("#waiting")).to_contain_text("Omar Haddad")
    await expect(panel.locator("table.audit")).to_have_count(0)  # compact inside Chatwoot
    await panel.get_by_role("button", name="Acknowledge").click()
    await expect(panel.locator(".notice")).to_have_text("Acknowledged as alicia.")
    await expect(panel).to_have_class(re.compile("compact"))  # the swapped panel stays compact
    await panel.locator("select[name=to]").select_option("alliyson")
    await panel.get_by_role("button", name="Reassign").click()
    await expect(panel.locator(".owner")).to_have_text("alliyson")
    await panel.locator("input[name=resolution]").fill("refund sent")
    await panel.get_by_role("button", name="Resolve").click()
    await expect(panel.locator(".stage")).to_have_text("closed")  # the VIP pack closes on resolution
    await panel.get_by_role("button", name="Reopen").click()  # refused (closed, or its run has ended) next to the form
    await expect(panel.locator('.refusal[data-action="reopen"]')).to_contain_text(re.compile("ticket is closed|has finished"))



@pytest.fixture
async def web_ui(pg_pool, task_queue):
    """A dev server with its Web UI, a worker, and a VIP ticket whose conversation
    was created 31 minutes ago (its acknowledgment SLA breaches at once), then
    escalated to Alliyson: the manual's Web UI screenshots."""
    from datetime import datetime, timedelta, timezone

    env = await local_environment(ui=True)
    conv = uuid.uuid4().int % 10**6 + 1
    wid = f"ticket-1-{conv}"
    ticket = TicketInput(account_id=1, conversation_id=conv, policy="vip-concierge", inbox_id=1,
                         contact=Contact(name="Jane Doe", vip=True),
                         created_at=datetime.now(timezone.utc) - timedelta(minutes=31))
    ticket, ui = for_web_ui(ticket, "https://chat.example.com")
    try:
        async with Worker(env.client, task_queue=task_queue, workflows=[TicketWorkflow, HandoffWorkflow],
                          activities=[*policy_activities(POLICIES_DIR), *recording_activities(Recorder(), pg_pool)]):
            handle = await env.client.start_workflow(
                TicketWorkflow.run, ticket, id=wid, task_queue=task_queue,
                search_attributes=search_attributes.initial_search_attributes(wid, ticket), **ui)
            await eventually(lambda: handle.query(TicketWorkflow.status), lambda s: s.sla_state == "breached")
            status = await send_update(env.client, wid, TicketWorkflow.request_escalation, Escalate(
                by="lola", reason="refund_over_200", payload={
                    "issue_summary": "Refund of $340 for a damaged order", "alicia_already_tried": "checked the order",
                    "customer_emotional_state": "frustrated"}))
            [handoff] = status.handoffs
            # The Web UI reads each board once, when the page loads: wait until both are written.
            await eventually(lambda: board(env.client, wid), lambda text: "Over-authority escalation" in text)
            await eventually(lambda: board(env.client, handoff.id), lambda text: "Alliyson Bonner" in text)
            yield ui_address(env), wid, handoff.id
    finally:
        await env.shutdown()  # an in-memory server of its own: its tickets go with it


async def board(client, wid: str) -> str:
    """A workflow's Current Details, as the Web UI reads them."""
    from temporalio.api.sdk.v1 import WorkflowMetadata

    meta = await client.get_workflow_handle(wid).query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return meta.current_details


async def test_web_ui_boards(web_ui, page):
    """A ticket's and a handoff's User Metadata tab in the Temporal Web UI show
    the summary, the details and the board the workflow keeps current."""
    ui, wid, handoff_id = web_ui
    await page.set_viewport_size({"width": 1400, "height": 1150})
    await page.goto(f"{ui}/namespaces/default/workflows/{wid}")
    await page.get_by_role("tab", name="User Metadata").click()
    summary, details, current = (page.frame_locator("iframe").nth(i) for i in range(3))  # each section renders in a frame
    await expect(page.get_by_role("heading", name="Current Details")).to_be_visible()
    await expect(summary.get_by_text("VIP · Jane Doe · vip-concierge")).to_be_visible()
    await expect(details.get_by_text("Jane Doe (VIP)")).to_be_visible()
    await expect(current.get_by_text("BREACHED").first).to_be_visible()
    await expect(current.get_by_text("Over-authority escalation").first).to_be_visible()
    await page.screenshot(path=str(SCREENSHOTS / "web-ui-ticket-board.png"))

    await page.goto(f"{ui}/namespaces/default/workflows/{handoff_id}")
    await page.get_by_role("tab", name="User Metadata").click()
    await expect(page.get_by_role("heading", name="Current Details")).to_be_visible()
    await expect(page.frame_locator("iframe").nth(2).get_by_text("Alliyson Bonner").first).to_be_visible()
    await page.screenshot(path=str(SCREENSHOTS / "web-ui-handoff-board.png"))
