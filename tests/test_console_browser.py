"""The operator console in a real browser (Playwright driving Debian's
chromium) against a real Temporal dev server, worker and Postgres: log in,
the board and its filters, the live countdown, a ticket's page and its
actions (acknowledge, the typed escalation form, a refused decision), the
Chatwoot Dashboard App page fed a synthetic `appContext` message, and a
ticket's and a handoff's boards in the Temporal Web UI.

Skipped, with a message saying how to enable it, when chromium is missing.
The tests take the manual's console screenshots as they go; they rewrite
docs/img/ only when asked (`make screenshots`, or UPDATE_SCREENSHOTS=1),
else they land in a scratch directory and a test run leaves the checkout
as it found it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.worker import Worker

from activities.policy import policy_activities
from client.gateway import TemporalGateway, for_web_ui
from client.tickets import send_update
from console import board as board_module
from dryrun.simulate import terminate_ticket_tree
from infra.environments import local_environment, ui_address
from infra.http_server import InProcessServer
from infra.settings import Settings
from models import search_attributes
from models.signals import Escalate, Reassign
from models.ticket import Contact
from models.ticket_input import TicketInput
from sandbox.recording import Recorder, recording_activities
from starter.bridge import create_app
from tests.helpers import CHROMIUM, HOW, POLICIES_DIR, choose_reason, eventually
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

try:
    from playwright.async_api import expect
except ImportError:  # pragma: no cover - the test extra pins it
    pytest.skip(HOW, allow_module_level=True)

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=HOW)]

TOKEN = "tok-alicia-browser-test-0001"
SCREENSHOTS = (
    Path(__file__).resolve().parent.parent / "docs" / "img"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "ticketflow-screenshots"  # overwritten each run
)
SCREENSHOTS.mkdir(parents=True, exist_ok=True)
ACCOUNT = 9


HOSTILE = '<img src=x onerror="window.__pwned=1">Eve'  # a customer name someone typed into Chatwoot


@pytest.fixture
async def console(dev_env, pg_pool, postgres_dsn, task_queue):
    """A worker, four tickets and the bridge (with the console) on a free port.

    Three are started as the bridge starts them (memo, search attributes:
    client.gateway.for_web_ui); the fourth, with a hostile name, the way
    tickets were started before the memo existed, so the board names it from
    its status query. Omar's was created 31 minutes ago: its acknowledgment
    SLA has breached and someone was paged. Dana's and Eve's are Alicia's,
    Omar's Lola's."""
    convs = [uuid.uuid4().int % 10**6 + 1 for _ in range(4)]
    wids = [f"ticket-{ACCOUNT}-{c}" for c in convs]
    rec = Recorder()
    settings = Settings(
        _env_file=None,
        temporal_address=dev_env.client.service_client.config.target_host,
        webhook_token=SecretStr("t" * 24),
        console_operators=SecretStr(json.dumps({TOKEN: "alicia"})),
        database_url=SecretStr(postgres_dsn),
        chatwoot_base_url="http://chatwoot.example",
        chatwoot_account_id=ACCOUNT,
        temporal_ui_url="http://ui.example:8233",
    )
    app = create_app(settings, TemporalGateway(settings, client=dev_env.client))
    server = await InProcessServer(app).start()
    async with Worker(
        dev_env.client,
        task_queue=task_queue,
        workflows=[TicketWorkflow, HandoffWorkflow],
        activities=[*policy_activities(POLICIES_DIR), *recording_activities(rec, pg_pool)],
    ):
        opened = datetime.now(UTC) - timedelta(minutes=3)
        tickets = [
            dict(
                policy="vip-concierge",
                contact=Contact(name="Dana Whitfield", vip=True),
                inbox_id=1,
                inbox_name="Concierge",
                channel="Channel::WebWidget",
                created_at=opened,
            ),
            dict(
                policy="vip-concierge",
                contact=Contact(name="Omar Haddad", vip=True),
                inbox_id=2,
                channel="Channel::Email",
                subject="Refund for order 4411",
                created_at=opened - timedelta(minutes=28),
            ),
            dict(policy="ops-ladder", contact=Contact(name="Lee Park")),
            dict(policy="vip-concierge", contact=Contact(name=HOSTILE, vip=True)),
        ]
        try:
            for i, (wid, conv, fields) in enumerate(zip(wids, convs, tickets, strict=True)):
                ticket = TicketInput(account_id=ACCOUNT, conversation_id=conv, **fields)
                start = (
                    {}
                    if i == 3
                    else {
                        "search_attributes": search_attributes.initial_search_attributes(
                            wid, ticket
                        ),
                        **for_web_ui(ticket, settings.chatwoot_base_url)[1],
                    }
                )
                handle = await dev_env.client.start_workflow(
                    TicketWorkflow.run, ticket, id=wid, task_queue=task_queue, **start
                )
                await eventually(
                    lambda h=handle: h.query(TicketWorkflow.status),
                    lambda s: s.stage != "starting",
                )
            for wid, owner in ((wids[0], "alicia"), (wids[1], "lola"), (wids[3], "alicia")):
                await send_update(
                    dev_env.client, wid, TicketWorkflow.reassign_to, Reassign(to=owner, by="lola")
                )
            # Visibility is eventually consistent: the board lists what a visibility call lists.
            listed = (
                f"WorkflowId IN ({', '.join(repr(w) for w in wids)})"
                " AND ExecutionStatus = 'Running'"
            )
            await eventually(
                lambda: dev_env.client.count_workflows(listed), lambda c: c.count == len(wids)
            )
            await eventually(
                lambda: dev_env.client.count_workflows(listed + " AND TicketOwner = 'alicia'"),
                lambda c: c.count == 2,
            )
            yield server.url, wids, convs
        finally:
            for wid in wids:
                await terminate_ticket_tree(dev_env.client, wid, "test cleanup")
            await server.stop()
            await app.state.console.close()


async def shot(page, name: str, height: int = 860) -> None:
    """Take one of the manual's screenshots (into SCREENSHOTS), cropped to `height`."""
    await page.screenshot(
        path=str(SCREENSHOTS / name), clip={"x": 0, "y": 0, "width": 1280, "height": height}
    )


async def log_in(page, url: str) -> None:
    await page.goto(f"{url}/console")
    await expect(page).to_have_url(re.compile(r"/console/login\?next="))
    await page.fill("input[name=token]", TOKEN)
    await page.click("button[type=submit]")
    await expect(page.locator("header .who")).to_contain_text("alicia")


async def pages_of(page, limit: int = 30) -> list[list[str]]:
    """The ticket ids on each page of the board, following "Next page" to the end."""
    out = []
    for _ in range(limit):
        await expect(page.locator(".summary")).to_be_visible()
        out.append(
            [
                await r.get_attribute("data-ticket")
                for r in await page.locator("tr.ticket-row").all()
            ]
        )
        nxt = page.locator("a.next")
        if not await nxt.count():
            return out
        await nxt.click()
        await expect(page.locator("a.first")).to_be_visible()
    raise AssertionError(f"more than {limit} pages")


async def test_board_names_customers_pages_and_filters_mine(console, page, monkeypatch):
    url, (dana, omar, lee, eve), _ = console
    await log_in(page, url)

    # The board: each row names its customer (and an e-mail's subject), never a bare workflow id.
    for wid in (dana, omar, lee, eve):
        await expect(page.locator(f'tr[data-ticket="{wid}"]')).to_have_count(1)
    row = page.locator(f'tr[data-ticket="{dana}"]')
    await expect(row.locator(".customer")).to_have_text("Dana Whitfield")
    await expect(row).to_contain_text("vip-concierge")
    await expect(row).to_contain_text("Web chat · Concierge")
    await expect(row.locator(".vip")).to_have_text("VIP")
    await expect(row.locator(".owner")).to_have_text("alicia")
    await expect(row.locator(".age")).to_have_text(
        re.compile(r"^\d+m$")
    )  # opened 3 minutes ago in Chatwoot
    await expect(row.get_by_role("link", name="Temporal")).to_have_attribute(
        "href", f"http://ui.example:8233/namespaces/default/workflows/{dana}"
    )
    await expect(row.get_by_role("link", name="Chatwoot")).to_have_attribute(
        "href", re.compile(rf"http://chatwoot.example/app/accounts/{ACCOUNT}/conversations/\d+$")
    )
    omar_row = page.locator(f'tr[data-ticket="{omar}"]')
    await expect(omar_row.locator(".subject")).to_have_text("Refund for order 4411")
    # Breached first, with who was last paged and that nobody has acknowledged the page yet.
    await expect(page.locator("tr.group").first).to_have_text("breached")
    await expect(omar_row.locator(".sla")).to_have_text("breached")
    await expect(omar_row.locator(".paged .ack")).to_have_text("no ack yet")
    await expect(omar_row.locator(".paged .page")).to_have_text(re.compile(r"^(lola|jonathan)$"))
    await expect(omar_row.locator(".age")).to_have_text(re.compile(r"^3\dm$"))
    # A hostile name (a ticket started before the memo: named from its status query) is
    # text, not markup.
    await expect(page.locator(f'tr[data-ticket="{eve}"] .customer')).to_have_text(HOSTILE)
    assert await page.locator("td.who img").count() == 0
    assert await page.evaluate("() => window.__pwned") is None

    # The countdown is live: it reads "in …" and changes by itself.
    countdown = row.locator(".countdown")
    await expect(countdown).to_have_text(re.compile(r"^in (\d+h )?\d+m \d+s$"))
    before = await countdown.text_content()
    await expect(countdown).not_to_have_text(before)

    # Filters: VIP only hides the ops-ladder ticket; the pack filter keeps only it.
    await page.check("input[name=vip]")
    await expect(page.locator(f'tr[data-ticket="{lee}"]')).to_have_count(0)
    await expect(page.locator(f'tr[data-ticket="{dana}"]')).to_have_count(1)
    await expect(page).to_have_url(re.compile(r"vip=1"))
    await page.uncheck("input[name=vip]")
    await page.select_option("select[name=policy]", "ops-ladder")
    await expect(page.locator(f'tr[data-ticket="{dana}"]')).to_have_count(0)
    await expect(page.locator(f'tr[data-ticket="{lee}"]')).to_have_count(1)
    await page.select_option("select[name=policy]", "")

    # Mine: the logged-in party's tickets (Alicia owns Dana's and Eve's), the owner
    # picker out of the way.
    await page.check("input[name=mine]")
    await expect(page).to_have_url(re.compile(r"mine=1"))
    await expect(page.locator(f'tr[data-ticket="{omar}"]')).to_have_count(0)
    await expect(page.locator(f'tr[data-ticket="{dana}"]')).to_have_count(1)
    await expect(page.locator("#owner-filter")).to_be_disabled()
    await page.uncheck("input[name=mine]")
    await expect(page.locator("#owner-filter")).to_be_enabled()
    await expect(page.locator(f'tr[data-ticket="{omar}"]')).to_have_count(1)
    await shot(page, "console-board.png", height=420)

    # Paging: two rows a page; "Next page" walks every one of Alicia's tickets once, and
    # Lola's never.
    monkeypatch.setattr(board_module, "PAGE_SIZE", 2)
    await page.goto(f"{url}/console?mine=1")
    pages = await pages_of(page)
    seen = [wid for p in pages for wid in p]
    assert all(len(p) <= 2 for p in pages) and len(pages) >= 1
    assert (
        seen.count(dana) == 1
        and seen.count(eve) == 1
        and omar not in seen
        and len(seen) == len(set(seen))
    )


async def test_ticket_page_says_who_and_offers_only_what_applies(console, page):
    url, (dana, *_), _ = console
    await log_in(page, url)
    await page.click(f'tr[data-ticket="{dana}"] a.customer')
    panel = page.locator("#panel")
    await expect(panel.locator("h1")).to_contain_text(dana)
    await expect(panel.locator("h1 .customer")).to_have_text("Dana Whitfield")
    await expect(panel.locator(".inbox")).to_have_text("Concierge")
    await expect(panel.locator(".channel")).to_have_text("Web chat")
    await expect(panel.locator(".opened")).to_contain_text(re.compile(r"\d\d-\d\d \d\d:\d\d"))
    await expect(panel.locator("table.clocks")).to_contain_text("VIP first acknowledgment")
    # Only what applies: no Reopen on an open ticket, no handoff answer with none open;
    # each says why.
    await expect(panel.get_by_role("button", name="Reopen")).to_have_count(0)
    await expect(panel.get_by_role("button", name="Send answer")).to_have_count(0)
    await expect(panel.locator('.unavailable li[data-action="reopen"]')).to_contain_text(
        "only a resolved ticket can be reopened (it is open)"
    )
    await expect(panel.locator('.unavailable li[data-action="decide"]')).to_contain_text(
        "no handoff is open"
    )

    # Acknowledge as the logged-in operator: then it is no longer offered, and the page
    # says who did it.
    await panel.get_by_role("button", name="Acknowledge").click()
    await expect(panel.locator(".notice")).to_have_text("Acknowledged as alicia.")
    await expect(panel.locator(".stage")).to_have_text("acknowledged")
    await expect(panel.get_by_role("button", name="Acknowledge")).to_have_count(0)
    await expect(panel.locator('.unavailable li[data-action="acknowledge"]')).to_contain_text(
        "already acknowledged by alicia"
    )
    await expect(panel.locator(".acked")).to_contain_text("by alicia")

    # Escalate with the typed form generated from the pack's handoff spec.
    form = panel.locator(".handoff-form")
    await choose_reason(panel, "refund_over_200", form, "Over-authority escalation")
    await expect(form.locator(".filled")).to_contain_text(["chatwoot conv id"])
    await form.locator("textarea[name='payload.issue_summary']").fill(
        "Refund of $340 for a damaged order"
    )
    await form.locator("textarea[name='payload.alicia_already_tried']").fill(
        "checked the order history"
    )
    await form.locator("select[name='payload.customer_emotional_state']").select_option(
        "frustrated"
    )
    await panel.get_by_role("button", name="Escalate").click()
    await expect(panel.locator(".notice")).to_have_text("Escalated as alicia.")
    await expect(panel.locator("table.handoffs")).to_contain_text("Over-authority escalation")
    await expect(panel.locator("table.handoffs")).to_contain_text("alliyson")

    # A handoff is open now, so it can be answered. A bad decision (it wants an acknowledgement):
    # the validator's refusal shows next to the form.
    await panel.locator("input[name=decision]").fill("engage")
    await panel.get_by_role("button", name="Send answer").click()
    refusal = panel.locator('.refusal[data-action="decide"]')
    await expect(refusal).to_contain_text("acknowledged, not decided")
    await expect(panel.locator("input[name=decision]")).to_have_value(
        "engage"
    )  # the form keeps what was typed
    await expect(panel.locator("table.audit")).to_contain_text("escalat")  # Postgres audit rows
    await expect(panel.locator("table.ladder")).not_to_contain_text("nothing yet")
    await shot(page, "console-ticket.png")
    await page.goto(f"{url}/console")
    await expect(page.locator(f'tr[data-ticket="{dana}"]')).to_contain_text("escalated")


async def test_chatwoot_dashboard_app(console, page):
    url, (_, omar, *_), convs = console
    await page.goto(f"{url}/console/login")
    await page.fill("input[name=token]", TOKEN)
    await page.click("button[type=submit]")
    await page.goto(f"{url}/console/chatwoot")
    await expect(page.locator("#waiting")).to_contain_text("Waiting for the conversation")
    # What Chatwoot posts to a dashboard app: a JSON string with event "appContext".
    context = {
        "event": "appContext",
        "data": {
            "conversation": {
                "id": convs[1],
                "display_id": convs[1],
                "account_id": ACCOUNT,
                "status": "open",
            },
            "contact": {"id": 7, "name": "Omar Haddad"},
            "currentAgent": {"id": 3, "name": "Alicia"},
        },
    }
    await page.evaluate("ctx => window.postMessage(JSON.stringify(ctx), '*')", context)
    panel = page.locator("#panel")
    await expect(panel.locator("h1")).to_contain_text(omar)
    await expect(panel.locator(".subject")).to_have_text("Refund for order 4411")
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
    await expect(panel.locator(".stage")).to_have_text(
        "closed"
    )  # the VIP pack closes on resolution
    # Closed: no action is offered (no dead Reopen form), and the page says why in one line.
    await expect(panel.locator("form.act")).to_have_count(0)
    await expect(panel.locator(".unavailable.all")).to_have_text(
        "No actions: the ticket is closed; nothing changes it now."
    )
    # The validator stays the final word: a reopen sent anyway (a page a moment out of
    # date) is refused.
    answer = await page.evaluate(
        """wid => fetch(`/console/tickets/${wid}/reopen`, {method: "POST",
        headers: {"HX-Request": "true", "Content-Type": "application/x-www-form-urlencoded"},
        body: "compact=1&go=1"})
        .then(r => r.text())""",
        omar,
    )
    assert 'class="refusal" role="alert" data-action="reopen"' in answer
    assert re.search("ticket is closed|has finished", answer)


@pytest.fixture
async def web_ui(pg_pool, task_queue):
    """A dev server with its Web UI, a worker, and a VIP ticket whose conversation
    was created 31 minutes ago (its acknowledgment SLA breaches at once), then
    escalated to Alliyson: the manual's Web UI screenshots."""
    env = await local_environment(ui=True)
    conv = uuid.uuid4().int % 10**6 + 1
    wid = f"ticket-1-{conv}"
    ticket = TicketInput(
        account_id=1,
        conversation_id=conv,
        policy="vip-concierge",
        inbox_id=1,
        contact=Contact(name="Jane Doe", vip=True),
        created_at=datetime.now(UTC) - timedelta(minutes=31),
    )
    ticket, ui = for_web_ui(ticket, "https://chat.example.com")
    try:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[TicketWorkflow, HandoffWorkflow],
            activities=[
                *policy_activities(POLICIES_DIR),
                *recording_activities(Recorder(), pg_pool),
            ],
        ):
            handle = await env.client.start_workflow(
                TicketWorkflow.run,
                ticket,
                id=wid,
                task_queue=task_queue,
                search_attributes=search_attributes.initial_search_attributes(wid, ticket),
                **ui,
            )
            await eventually(
                lambda: handle.query(TicketWorkflow.status), lambda s: s.sla_state == "breached"
            )
            status = await send_update(
                env.client,
                wid,
                TicketWorkflow.request_escalation,
                Escalate(
                    by="lola",
                    reason="refund_over_200",
                    payload={
                        "issue_summary": "Refund of $340 for a damaged order",
                        "alicia_already_tried": "checked the order",
                        "customer_emotional_state": "frustrated",
                    },
                ),
            )
            [handoff] = status.handoffs
            # The Web UI reads each board once, when the page loads: wait until both are written.
            await eventually(
                lambda: board(env.client, wid), lambda text: "Over-authority escalation" in text
            )
            await eventually(
                lambda: board(env.client, handoff.id), lambda text: "Alliyson Bonner" in text
            )
            yield ui_address(env), wid, handoff.id
    finally:
        await env.shutdown()  # an in-memory server of its own: its tickets go with it


async def board(client, wid: str) -> str:
    """A workflow's Current Details, as the Web UI reads them."""
    from temporalio.api.sdk.v1 import WorkflowMetadata

    meta = await client.get_workflow_handle(wid).query(
        "__temporal_workflow_metadata", result_type=WorkflowMetadata
    )
    return meta.current_details


async def test_web_ui_boards(web_ui, page):
    """A ticket's and a handoff's User Metadata tab in the Temporal Web UI show
    the summary, the details and the board the workflow keeps current."""
    ui, wid, handoff_id = web_ui
    await page.set_viewport_size({"width": 1400, "height": 1150})
    await page.goto(f"{ui}/namespaces/default/workflows/{wid}")
    await page.get_by_role("tab", name="User Metadata").click()
    summary, details, current = (
        page.frame_locator("iframe").nth(i) for i in range(3)
    )  # each section renders in a frame
    await expect(page.get_by_role("heading", name="Current Details")).to_be_visible()
    await expect(summary.get_by_text("VIP · Jane Doe · vip-concierge")).to_be_visible()
    await expect(details.get_by_text("Jane Doe (VIP)")).to_be_visible()
    await expect(current.get_by_text("BREACHED").first).to_be_visible()
    await expect(current.get_by_text("Over-authority escalation").first).to_be_visible()
    await page.screenshot(path=str(SCREENSHOTS / "web-ui-ticket-board.png"))

    await page.goto(f"{ui}/namespaces/default/workflows/{handoff_id}")
    await page.get_by_role("tab", name="User Metadata").click()
    await expect(page.get_by_role("heading", name="Current Details")).to_be_visible()
    await expect(
        page.frame_locator("iframe").nth(2).get_by_text("Alliyson Bonner").first
    ).to_be_visible()
    await page.screenshot(path=str(SCREENSHOTS / "web-ui-handoff-board.png"))
