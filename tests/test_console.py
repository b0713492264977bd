"""The operator console without a browser: who may use it, the signed
session cookie, the CSRF guard, the typed handoff form from a pack, and the
board's pages and the ticket page's actions on a stand-in Temporal (what a
page costs it, whatever the number of open tickets). (The board and the
actions against real tickets: test_console_browser.py.)"""

from __future__ import annotations

import contextlib
import html as html_lib
import logging
import re
from datetime import UTC, datetime
from types import SimpleNamespace

import httpx
import pytest
from pydantic import SecretStr
from temporalio.service import RPCError, RPCStatusCode

from client.gateway import TemporalGateway
from console.auth import COOKIE, Operator, Sessions, parse_operators
from console.board import Cursor
from console.packs import Packs, escalation_form, payload_from_form
from infra.settings import Settings, SettingsError
from models import search_attributes as sa
from models.state import PageState
from models.status import TicketStatus
from models.ticket_card import TicketCard
from starter.bridge import create_app
from tests.helpers import CONSOLE_TOKEN, POLICIES_DIR, DownGateway


def app_for(dev_mode: bool = False, operators: str | None = f'{{"{CONSOLE_TOKEN}": "alicia"}}'):
    settings = Settings(
        _env_file=None,
        webhook_token=SecretStr("x" * 20),
        temporal_address="nowhere:7233",
        console_operators=SecretStr(operators) if operators else None,
    )
    return create_app(settings, DownGateway(settings), dev_mode=dev_mode)


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test")


async def test_console_is_off_without_operators_outside_dev():
    async with client_for(app_for(operators=None)) as c:
        r = await c.get("/console")
        assert r.status_code == 404 and "CONSOLE_OPERATORS" in r.json()["error"]


async def test_login_required_and_token_never_logged(caplog, capsys):
    caplog.set_level(logging.DEBUG)
    async with client_for(app_for()) as c:
        r = await c.get("/console/tickets/ticket-1-5")
        assert r.status_code == 303 and r.headers["location"].startswith(
            "/console/login?next=/console/tickets/ticket-1-5"
        )
        r = await c.post(
            "/console/login",
            content="token=wrong-token-000000000&next=/console",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 401 and "unknown token" in r.text
        r = await c.post(
            "/console/login",
            content="party=alicia&next=/console",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 401  # picking a person is for `ticketflow dev` only
        r = await c.post(
            "/console/login",
            content=f"token={CONSOLE_TOKEN}&next=https://evil.example/",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 303 and r.headers["location"] == "/console"  # no open redirect
        cookie = r.headers["set-cookie"]
        assert (
            "httponly" in cookie.lower()
            and "samesite=lax" in cookie.lower()
            and CONSOLE_TOKEN not in cookie
        )
        r = await c.get("/console")
        assert r.status_code == 200 and "Signed in as <b>alicia</b>" in r.text
        assert "cannot reach Temporal" in r.text  # the board says why it is empty
        r = await c.post(
            "/console/tickets/ticket-1-5/acknowledge",
            content="go=1",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 403  # not from the console page (no HX-Request): the CSRF guard
    out = capsys.readouterr()
    assert CONSOLE_TOKEN not in caplog.text + out.out + out.err


async def test_tampered_or_foreign_cookie_is_refused():
    sessions = Sessions({CONSOLE_TOKEN: "alicia"}, dev_mode=False)
    good = sessions.cookie_for(Operator("alicia"))
    body, sig = good.rsplit(".", 1)
    forged = Sessions({"another-token-0123456789": "lola"}, dev_mode=False).cookie_for(
        Operator("lola")
    )
    expired = sessions.cookie_for(Operator("alicia"), now=0)

    class Req:
        def __init__(self, value):
            self.cookies = {COOKIE: value}

    assert sessions.operator(Req(good)) == Operator("alicia")
    assert sessions.operator(Req(body + "." + "0" * len(sig))) is None
    assert sessions.operator(Req(forged)) is None
    assert sessions.operator(Req(expired)) is None
    assert sessions.login("tok-alicia-0123456789abcdeX") is None


def test_operator_settings_errors_name_the_setting_not_the_token():
    with pytest.raises(SettingsError, match="CONSOLE_OPERATORS: not JSON"):
        parse_operators(Settings(_env_file=None, console_operators=SecretStr("{nope")))
    with pytest.raises(SettingsError) as err:
        parse_operators(Settings(_env_file=None, console_operators=SecretStr('{"short": "lola"}')))
    assert (
        "lola" in str(err.value)
        and 'short"' not in str(err.value)
        and "16 characters" in str(err.value)
    )
    assert "**" in repr(
        Settings(
            _env_file=None, console_operators=SecretStr(f'{{"{CONSOLE_TOKEN}": "a"}}')
        ).console_operators
    )


async def test_dev_mode_lets_you_pick_a_person_and_says_so():
    async with client_for(app_for(dev_mode=True, operators=None)) as c:
        r = await c.get("/console", follow_redirects=True)
        assert "Dev mode" in r.text and "no login" in r.text and 'value="alicia"' in r.text
        r = await c.post(
            "/console/login",
            content="party=nobody&next=/console",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 401
        r = await c.post(
            "/console/login",
            content="party=lola&next=/console",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 303
        r = await c.get("/console")
        assert "acting as" in r.text and '<option value="lola" selected>' in r.text


async def test_static_files_are_served_from_the_repo():
    async with client_for(app_for()) as c:
        r = await c.get("/console/static/htmx.min.js")
        assert r.status_code == 200 and "htmx" in r.text[:200]
        assert (await c.get("/console/static/console.js")).status_code == 200


def test_handoff_form_from_the_pack_spec():
    pack = Packs(POLICIES_DIR).get("vip-concierge")
    form = escalation_form(pack, "refund_over_200")
    assert form.handoff == "over_authority" and form.default_target == "alliyson"
    by_name = {f.name: f for f in form.fields}
    assert by_name["over_authority_reason"].filled_by == "the reason"
    assert by_name["chatwoot_conv_id"].filled_by.startswith("from the ticket")
    assert by_name["vip_flag"].filled_by == "fixed"
    assert by_name["customer_emotional_state"].values == ["calm", "frustrated", "angry", "panicked"]
    assert by_name["issue_summary"].filled_by is None and by_name["issue_summary"].required
    payload = payload_from_form(
        form,
        {
            "payload.issue_summary": " Refund $340 ",
            "payload.alicia_already_tried": "",
            "payload.customer_emotional_state": "calm",
            "payload.vip_flag": "false",
        },
    )
    assert payload == {"issue_summary": "Refund $340", "customer_emotional_state": "calm"}
    assert escalation_form(pack, "no_such_reason") is None


def test_board_sorts_by_next_deadline_and_shares_statuses():
    from datetime import datetime, timedelta

    from client.tickets import TicketRow
    from console.board import BoardRow, StatusCache, sort_board
    from models.status import TicketStatus

    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def row(wid, minutes, level=0):
        r = TicketRow(wid, "vip-concierge", "lola", "open", "running", True, level)
        return BoardRow(r, None, now + timedelta(minutes=minutes) if minutes is not None else None)

    board = [
        row("late", 30),
        row("none", None),
        row("overdue", -5, level=1),
        row("soon", 2, level=2),
    ]
    assert [b.row.workflow_id for b in sort_board(board, "deadline")] == [
        "overdue",
        "soon",
        "late",
        "none",
    ]
    assert [b.row.workflow_id for b in sort_board(board, "level")] == [
        "soon",
        "overdue",
        "late",
        "none",
    ]

    cache = StatusCache(ttl=60)
    s = TicketStatus(ticket_id="ticket-1-1", policy="vip-concierge", stage="open")
    cache.put("ticket-1-1", s)
    assert cache.get("ticket-1-1") is s and cache.get("ticket-1-2") is None
    assert StatusCache(ttl=0).get("ticket-1-1") is None


async def test_escalation_form_fragment_follows_the_reason():
    async with client_for(app_for()) as c:
        await c.post(
            "/console/login",
            content=f"token={CONSOLE_TOKEN}",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        r = await c.get(
            "/console/tickets/ticket-1-5/escalate-fields",
            params={"policy": "vip-concierge", "reason": "legal_threat"},
        )
        assert r.status_code == 200 and 'data-handoff="sensitive_matter"' in r.text
        assert 'name="target"' in r.text and "jonathan (default)" in r.text
        r = await c.get(
            "/console/tickets/ticket-1-5/escalate-fields",
            params={"policy": "vip-concierge", "reason": "x"},
        )
        assert "handoff-form" not in r.text


# ------------------------------------------------ the board, paged, on a stand-in Temporal


class Visibility:
    """Stands in for the Temporal client: open tickets as visibility lists them
    (search attributes, the memo's card, pages of `page_size` with a token),
    each answering its `status` query; every call is recorded."""

    def __init__(self, tickets: list[dict]) -> None:
        self.tickets = {t["wid"]: t for t in tickets}
        self.calls: list[tuple[str, str]] = []

    def _matching(self, query: str) -> list[dict]:
        sla: dict[str, set[str | None]] = {
            "SlaState = 'breached'": {"breached"},
            "SlaState = 'running'": {"running"},
            "SlaState IS NULL OR": {None, "ok"},
        }
        out = []
        for t in self.tickets.values():
            owner = re.search(r'TicketOwner = "([^"]*)"', query)
            if owner and t["owner"] != owner.group(1):
                continue
            if "TicketVip = true" in query and not t["vip"]:
                continue
            if any(clause in query and t["sla"] not in states for clause, states in sla.items()):
                continue
            if "TicketStage = 'policy_error'" in query and t.get("stage") != "policy_error":
                continue
            if "ExecutionStatus != 'Running'" in query:  # every ticket here is open
                continue
            out.append(t)
        return out

    def list_workflows(
        self, query: str, *, page_size: int, next_page_token: bytes | None = None, **_
    ):
        self.calls.append(("list", query))
        rows, start = self._matching(query), int(next_page_token or b"0")
        end = start + page_size

        async def memo(t=None):
            return {"ticket": t["card"]} if t and t.get("card") else {}

        def execution(t: dict):
            attrs = {
                sa.TICKET_POLICY: t["policy"],
                sa.TICKET_OWNER: t["owner"],
                sa.SLA_STATE: t["sla"],
                sa.TICKET_VIP: t["vip"],
                sa.TICKET_STAGE: "open",
            }
            return SimpleNamespace(
                id=t["wid"],
                typed_search_attributes=attrs,
                status=None,
                start_time=None,
                memo=lambda: memo(t),
            )

        class Page:
            current_page = None
            next_page_token = None

            async def fetch_next_page(self):
                self.current_page = [execution(t) for t in rows[start:end]]
                self.next_page_token = str(end).encode() if end < len(rows) else None

            async def __aiter__(self):  # every page, as the client's iterator walks them
                for t in rows:
                    yield execution(t)

        return Page()

    async def count_workflows(self, query: str, **_):
        self.calls.append(("count", query))
        return SimpleNamespace(count=len(self._matching(query)))

    def get_workflow_handle(self, wid: str):
        outer = self

        class Handle:
            async def query(self, *_a, **_k):
                outer.calls.append(("query", wid))
                return outer.tickets[wid]["status"]

            async def describe(self, **_k):
                outer.calls.append(("describe", wid))
                if wid not in outer.tickets:
                    raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")
                return SimpleNamespace(id=wid)

        return Handle()

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.calls if k == kind)


def tickets(n: int, breached: int = 5, running: int = 60) -> list[dict]:
    """`n` open tickets: `breached`, then `running`, then the rest OK; every tenth without a memo
    (started before it existed: its status names it), one with a hostile name, odd ones Alicia's."""
    out = []
    for i in range(n):
        wid = f"ticket-1-{i + 1}"
        sla = "breached" if i < breached else "running" if i < breached + running else "ok"
        name = "<script>alert('x')</script>" if i == 3 else f"Customer {i}"
        card = TicketCard(
            customer=name,
            subject=f"Order {i}",
            channel="Channel::Email",
            inbox_id=2,
            opened_at=datetime(2026, 11, 17, 16, tzinfo=UTC),
        )
        owner = "alicia" if i % 2 else "lola"
        status = TicketStatus(
            ticket_id=wid,
            policy="vip-concierge",
            stage="open",
            owner=owner,
            sla_state=sla,
            card=card,
            pages=[
                PageState(
                    dedup_key="k",
                    target="jonathan",
                    source="clock:first_ack",
                    at=datetime(2026, 11, 17, 16, 31, tzinfo=UTC),
                )
            ],
        )
        out.append(
            {
                "wid": wid,
                "sla": sla,
                "owner": owner,
                "vip": i % 3 == 0,
                "policy": "vip-concierge",
                "card": None if i % 10 == 9 else card.model_dump(mode="json"),
                "status": status,
            }
        )
    return out


def app_on(client):
    settings = Settings(
        _env_file=None,
        webhook_token=SecretStr("x" * 20),
        temporal_address="nowhere:7233",
        console_operators=SecretStr(f'{{"{CONSOLE_TOKEN}": "alicia"}}'),
    )
    return create_app(settings, TemporalGateway(settings, client=client))


@contextlib.asynccontextmanager
async def logged_in(app):
    async with client_for(app) as c:
        await c.post(
            "/console/login",
            content=f"token={CONSOLE_TOKEN}",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        yield c


def rows_of(html: str) -> list[str]:
    return re.findall(r'class="ticket-row[^"]*" data-ticket="([^"]+)"', html)


async def test_the_board_pages_breached_first_and_names_each_customer():
    vis = Visibility(tickets(130))
    async with logged_in(app_on(vis)) as c:
        r = await c.get("/console")
        first = rows_of(r.text)
        assert len(first) == 50 and first[:5] == [
            f"ticket-1-{i}" for i in range(1, 6)
        ]  # the breached group first
        assert (
            "<b>130</b> open" in r.text
            and "<b>5</b> breached" in r.text
            and 'showing <span class="range">1–50' in r.text
        )
        assert "Customer 1</a>" in r.text and "Order 1</div>" in r.text and "Email" in r.text
        assert (
            "<script>alert" not in r.text
            and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in r.text
        )
        assert ">Customer 9</a>" in r.text  # no memo: named by its status query
        assert 'class="page page-triggered">jonathan' in r.text and "no ack yet" in r.text
        # One refresh: two visibility lists (the breached group ran out, the next filled
        # the page), three counts (open, breached, parked in policy_error), one status
        # query per row of the page, and none of the other 80.
        assert (vis.count("list"), vis.count("count"), vis.count("query")) == (2, 3, 50)
        assert "policy_error</code>: their pack" not in r.text  # none parked: no banner
        vis.calls.clear()
        await c.get("/console")  # a later load: statuses and counts are shared for STATUS_TTL
        assert (vis.count("list"), vis.count("count"), vis.count("query")) == (2, 0, 0)

        seen, url = (
            list(first),
            html_lib.unescape(re.search(r'class="next" href="([^"]+)"', r.text).group(1)),
        )
        while url:
            r = await c.get(url)
            assert 'class="first" href="/console?sort=deadline"' in r.text
            seen += rows_of(r.text)
            nxt = re.search(r'class="next" href="([^"]+)"', r.text)
            url = html_lib.unescape(nxt.group(1)) if nxt else None
        assert sorted(seen) == sorted(vis.tickets) and len(seen) == 130  # every ticket once
        assert 'showing <span class="range">101–130' in r.text


async def test_a_page_costs_the_same_with_100_or_10000_open_tickets():
    counts = []
    for n in (100, 10_000):
        vis = Visibility(tickets(n, breached=3, running=2))
        async with logged_in(app_on(vis)) as c:
            r = await c.get("/console")
            assert len(rows_of(r.text)) == 50 and f"<b>{n:,}</b> open" in r.text
        counts.append((vis.count("list"), vis.count("count"), vis.count("query")))
    assert counts[0] == counts[1] == (3, 3, 50)


async def test_mine_is_the_logged_in_partys_tickets():
    vis = Visibility(tickets(40))
    async with logged_in(app_on(vis)) as c:
        r = await c.get("/console", params={"mine": "1", "owner": "lola"})
        wids = rows_of(r.text)
        assert wids and all(vis.tickets[w]["owner"] == "alicia" for w in wids) and len(wids) == 20
        assert all(
            'TicketOwner = "alicia"' in q
            for kind, q in vis.calls
            if kind in ("list", "count") and "policy_error" not in q  # parked: any owner
        )
        assert 'name="mine" value="1" checked' in r.text and 'id="owner-filter" disabled' in r.text


async def test_a_bad_cursor_is_the_first_page_and_sorting_stays_inside_sla_groups():
    assert (
        Cursor.decode("junk") == Cursor()
        and Cursor.decode("9.0.") == Cursor()
        and Cursor.decode(None) == Cursor()
    )
    assert Cursor.decode(Cursor(1, 50, b'{"x":1}').encode()) == Cursor(1, 50, b'{"x":1}')
    vis = Visibility(tickets(20))
    async with logged_in(app_on(vis)) as c:
        r = await c.get("/console", params={"cursor": "not-a-cursor", "sort": "level"})
        assert rows_of(r.text)[:5] == [f"ticket-1-{i}" for i in range(1, 6)]
        # a later group's cursor with "breached" ticked (breached is the first group
        # alone): its first page
        r = await c.get("/console", params={"cursor": Cursor(2, 50).encode(), "breached": "1"})
        assert rows_of(r.text) == [f"ticket-1-{i}" for i in range(1, 6)]


async def test_the_ticket_page_says_who_and_offers_only_what_applies():
    vis = Visibility(tickets(3))
    t = vis.tickets["ticket-1-2"]
    async with logged_in(app_on(vis)) as c:
        r = await c.get("/console/tickets/ticket-1-2")
        assert (
            '<span class="customer">Customer 1</span>' in r.text
            and '<p class="subject">Order 1</p>' in r.text
        )
        assert 'class="inbox">inbox #2' in r.text and 'class="channel">Email' in r.text
        assert 'class="opened">11-17 16:00 UTC' in r.text
        assert "/console/tickets/ticket-1-2/acknowledge" in r.text and "/reopen" not in r.text
        assert "<b>Reopen</b>: only a resolved ticket can be reopened (it is open)" in r.text
        assert "<b>Answer a handoff</b>: no handoff is open" in r.text
        t["status"] = t["status"].model_copy(
            update={
                "stage": "resolved",
                "acknowledged_at": datetime(2026, 11, 17, 16, 2, tzinfo=UTC),
                "acknowledged_by": "lola",
            }
        )
        r = await c.get("/console/tickets/ticket-1-2/panel")
        assert (
            "/console/tickets/ticket-1-2/reopen" in r.text
            and "/acknowledge" not in r.text
            and "/resolve" not in r.text
        )
        assert "already acknowledged by lola at 11-17 16:02 UTC" in r.text
        t["status"] = t["status"].model_copy(update={"stage": "closed"})
        r = await c.get("/console/tickets/ticket-1-2/panel")
        assert (
            "No actions: the ticket is closed; nothing changes it now." in r.text
            and "hx-post" not in r.text
        )


# ------------------------------------------------ the search box, the footer, parked tickets


async def test_the_search_box_finds_a_ticket_by_short_id_conversation_or_workflow_id():
    from engine.ticket_ids import short_id

    vis = Visibility(tickets(30))
    async with logged_in(app_on(vis)) as c:
        board = await c.get("/console")
        assert 'action="/console/find"' in board.text and 'name="q"' in board.text
        wid = "ticket-1-17"
        for q in (short_id(wid), f"#{short_id(wid).lower()}", f"[{short_id(wid)}]", "17", wid):
            r = await c.get("/console/find", params={"q": q})
            assert r.status_code == 303 and r.headers["location"] == f"/console/tickets/{wid}", q
        for q, why in (
            ("ABCDEF12", "no such ticket: none has the short id ABCDEF12"),
            ("999", "no such ticket for conversation 999 (no workflow ticket-1-999)"),
            ("ticket-7-7", "no such ticket: ticket-7-7"),
            ("", "no ticket given"),
        ):
            r = await c.get("/console/find", params={"q": q})
            assert r.status_code == 404 and why in r.text, q
            assert "No ticket to show for" in r.text and 'action="/console/find"' in r.text


async def test_a_short_id_two_tickets_share_is_refused_with_both_names(monkeypatch):
    import client.ticket_lookup as lookup

    monkeypatch.setattr(
        lookup, "short_id", lambda wid: "BEEF0000" if wid in {"ticket-1-2", "ticket-1-5"} else "X"
    )
    async with logged_in(app_on(Visibility(tickets(6)))) as c:
        r = await c.get("/console/find", params={"q": "beef0000"})
        assert r.status_code == 409
        assert "2 tickets have the short id BEEF0000: ticket-1-2, ticket-1-5" in r.text


async def test_search_needs_a_login_and_says_when_temporal_is_down():
    async with client_for(app_for()) as c:
        r = await c.get("/console/find", params={"q": "42"})
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login?next=")
        await c.post(
            "/console/login",
            content=f"token={CONSOLE_TOKEN}",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        r = await c.get("/console/find", params={"q": "42"})
        assert r.status_code == 503 and "cannot reach Temporal" in r.text


async def test_every_page_shows_the_version_in_its_footer():
    from infra.version import version

    async with client_for(app_for()) as c:
        r = await c.get("/console/login")
        assert f'<footer class="version muted">ticketflow {version()}</footer>' in r.text
    async with logged_in(app_on(Visibility(tickets(3)))) as c:
        for path in ("/console", "/console/tickets/ticket-1-2", "/console/find?q=nope"):
            assert f"ticketflow {version()}</footer>" in (await c.get(path)).text, path


async def test_the_board_counts_tickets_parked_in_policy_error_whatever_the_filter():
    rows = tickets(12)
    for t in rows[7:10]:
        t["stage"] = "policy_error"
    vis = Visibility(rows)
    async with logged_in(app_on(vis)) as c:
        r = await c.get("/console", params={"owner": "nobody-at-all"})
        assert not rows_of(r.text)  # the filter matches none of them...
        assert re.search(r"<b>3</b>\s+ticket\(s\) parked in <code>policy_error</code>", r.text)
        parked = [q for kind, q in vis.calls if kind == "count" and "policy_error" in q]
        assert parked and all("TicketOwner" not in q for q in parked)  # ...yet all three count
