"""The operator console without a browser: who may use it, the signed
session cookie, the CSRF guard, and the typed handoff form from a pack.
(The board and the actions against a real ticket: test_console_browser.py.)"""

from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import SecretStr

from infra.settings import Settings, SettingsError
from starter.bridge import create_app
from console.auth import COOKIE, Operator, Sessions, parse_operators
from console.packs import Packs, escalation_form, payload_from_form
from client.gateway import TemporalGateway, TemporalUnavailable
from tests.conftest import POLICIES_DIR

TOKEN = "tok-alicia-0123456789abcdef"


class DownGateway(TemporalGateway):
    async def client(self, timeout: float = 5.0):
        raise TemporalUnavailable("cannot reach Temporal at nowhere:7233: test")


def app_for(dev_mode: bool = False, operators: str | None = f'{{"{TOKEN}": "alicia"}}'):
    settings = Settings(_env_file=None, webhook_token=SecretStr("x" * 20), temporal_address="nowhere:7233",
                        console_operators=SecretStr(operators) if operators else None)
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
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login?next=/console/tickets/ticket-1-5")
        r = await c.post("/console/login", content="token=wrong-token-000000000&next=/console",
                         headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 401 and "unknown token" in r.text
        r = await c.post("/console/login", content="party=alicia&next=/console",
                         headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 401  # picking a person is for `ticketflow dev` only
        r = await c.post("/console/login", content=f"token={TOKEN}&next=https://evil.example/",
                         headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 303 and r.headers["location"] == "/console"  # no open redirect
        cookie = r.headers["set-cookie"]
        assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and TOKEN not in cookie
        r = await c.get("/console")
        assert r.status_code == 200 and "Signed in as <b>alicia</b>" in r.text
        assert "cannot reach Temporal" in r.text  # the board says why it is empty
        r = await c.post("/console/tickets/ticket-1-5/acknowledge", content="go=1",
                         headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 403  # not from the console page (no HX-Request): the CSRF guard
    out = capsys.readouterr()
    assert TOKEN not in caplog.text + out.out + out.err


async def test_tampered_or_foreign_cookie_is_refused():
    sessions = Sessions({TOKEN: "alicia"}, dev_mode=False)
    good = sessions.cookie_for(Operator("alicia"))
    body, sig = good.rsplit(".", 1)
    forged = Sessions({"another-token-0123456789": "lola"}, dev_mode=False).cookie_for(Operator("lola"))
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
    assert "lola" in str(err.value) and "short\"" not in str(err.value) and "16 characters" in str(err.value)
    assert "**" in repr(Settings(_env_file=None, console_operators=SecretStr(f'{{"{TOKEN}": "a"}}')).console_operators)


async def test_dev_mode_lets_you_pick_a_person_and_says_so():
    async with client_for(app_for(dev_mode=True, operators=None)) as c:
        r = await c.get("/console", follow_redirects=True)
        assert "Dev mode" in r.text and "no login" in r.text and 'value="alicia"' in r.text
        r = await c.post("/console/login", content="party=nobody&next=/console",
                         headers={"content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 401
        r = await c.post("/console/login", content="party=lola&next=/console",
                         headers={"content-type": "application/x-www-form-urlencoded"})
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
    payload = payload_from_form(form, {"payload.issue_summary": " Refund $340 ", "payload.alicia_already_tried": "",
                                       "payload.customer_emotional_state": "calm", "payload.vip_flag": "false"})
    assert payload == {"issue_summary": "Refund $340", "customer_emotional_state": "calm"}
    assert escalation_form(pack, "no_such_reason") is None


def test_board_sorts_by_next_deadline_and_shares_statuses():
    from datetime import datetime, timedelta, timezone

    from models.status import TicketStatus
    from console.board import BoardRow, StatusCache, sort_board
    from client.tickets import TicketRow

    now = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)

    def row(wid, minutes, level=0):
        r = TicketRow(wid, "vip-concierge", "lola", "open", "running", True, level)
        return BoardRow(r, None, now + timedelta(minutes=minutes) if minutes is not None else None)

    board = [row("late", 30), row("none", None), row("overdue", -5, level=1), row("soon", 2, level=2)]
    assert [b.row.workflow_id for b in sort_board(board, "deadline")] == ["overdue", "soon", "late", "none"]
    assert [b.row.workflow_id for b in sort_board(board, "level")] == ["soon", "overdue", "late", "none"]

    cache = StatusCache(ttl=60)
    s = TicketStatus(ticket_id="ticket-1-1", policy="vip-concierge", stage="open")
    cache.put("ticket-1-1", s)
    assert cache.get("ticket-1-1") is s and cache.get("ticket-1-2") is None
    assert StatusCache(ttl=0).get("ticket-1-1") is None


async def test_escalation_form_fragment_follows_the_reason():
    async with client_for(app_for()) as c:
        await c.post("/console/login", content=f"token={TOKEN}", headers={"content-type": "application/x-www-form-urlencoded"})
        r = await c.get("/console/tickets/ticket-1-5/escalate-fields",
                        params={"policy": "vip-concierge", "reason": "legal_threat"})
        assert r.status_code == 200 and 'data-handoff="sensitive_matter"' in r.text
        assert 'name="target"' in r.text and "jonathan (default)" in r.text
        r = await c.get("/console/tickets/ticket-1-5/escalate-fields", params={"policy": "vip-concierge", "reason": "x"})
        assert "handoff-form" not in r.text
