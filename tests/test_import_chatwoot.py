"""`ticketflow import chatwoot` records last month's conversations from the
Chatwoot stand-in (through its API, as Chatwoot answers) as ticket inputs with
no message body; `whatif` then runs a draft pack on them. A repeat import
writes nothing; every conversation not imported is reported with why."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from activities.chatwoot import ChatwootActivities
from infra.settings import load_settings
from sandbox.chatwoot import create_chatwoot_app
from starter.import_chatwoot import Importer
from tests.whatif_scenario import draft_with_first_ack

TOKEN = "cw-token"
ACCOUNT = 6
INBOX = 77  # this module's own inbox: whatif sees only these tickets
NOW = datetime.now(UTC).replace(microsecond=0)
CREATED = NOW - timedelta(days=3)
AGENT = {"id": 7, "name": "Alicia", "type": "user"}
CUSTOMER = {"id": 12, "name": "Dana", "type": "contact"}


async def seed(cw: httpx.AsyncClient, conv: int, created: datetime, **kw: Any) -> None:
    body = {
        "account_id": ACCOUNT,
        "conversation_id": conv,
        "inbox_id": INBOX,
        "created_at": int(created.timestamp()),
        "contact": {"name": "Dana", "custom_attributes": {"vip": True}},
        **kw,
    }
    assert (await cw.post("/_sandbox/conversations", json=body)).status_code == 200


async def message(cw: httpx.AsyncClient, conv: int, kind: str, at: datetime) -> None:
    body = {
        "message_type": kind,
        "sender": AGENT if kind == "outgoing" else CUSTOMER,
        "created_at": int(at.timestamp()),
        "content": "my card number is 4242",
    }
    r = await cw.post(f"/_sandbox/conversations/{ACCOUNT}/{conv}/messages", json=body)
    assert r.status_code == 200, r.text


@pytest.fixture
async def chatwoot():
    app = create_chatwoot_app(TOKEN, auto_create=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cw"
    ) as cw:
        # Answered at +25 minutes: within the 30-minute acknowledgment, not within 20.
        await seed(cw, 951, CREATED)
        await message(cw, 951, "incoming", CREATED)
        await message(cw, 951, "outgoing", CREATED + timedelta(minutes=25))
        # Answered at +5 minutes, then resolved.
        await seed(cw, 952, CREATED + timedelta(hours=1), status="resolved")
        await message(cw, 952, "incoming", CREATED + timedelta(hours=1))
        await message(cw, 952, "outgoing", CREATED + timedelta(hours=1, minutes=5))
        await seed(cw, 953, CREATED)  # nothing said in it
        await seed(cw, 954, NOW - timedelta(days=40))  # older than the window, active in it
        await message(cw, 954, "incoming", NOW - timedelta(days=1))
        await seed(cw, 955, CREATED, inbox_id=INBOX + 1)
        await message(cw, 955, "incoming", CREATED)
        await seed(cw, 956, NOW - timedelta(days=60))  # not active in the window at all
        yield cw


def importer(cw: httpx.AsyncClient, conn) -> Importer:
    settings = load_settings(
        _env_file=None, chatwoot_base_url="http://cw", chatwoot_api_token=TOKEN
    )
    return Importer(
        ChatwootActivities(cw, settings), conn, settings, account_id=ACCOUNT, inboxes=[INBOX]
    )


async def ticketflow(dsn: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "ticketflow"),
        *args,
        env={**os.environ, "DATABASE_URL": dsn},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def wid(conv: int) -> str:
    return f"ticket-{ACCOUNT}-{conv}"


async def test_import_then_whatif_reports_on_the_imported_conversations(
    chatwoot, pg_pool, postgres_dsn, tmp_path
):
    since = NOW - timedelta(days=30)
    async with pg_pool.acquire() as conn:
        report = await importer(chatwoot, conn).run(since)
    assert sorted(report.imported) == [wid(951), wid(952)]
    assert report.events == 5  # two replies each, and the resolution
    assert report.skipped == {
        "no messages from the customer or an agent": [wid(953)],
        "created before the window (its clocks started earlier)": [wid(954)],
        "inbox not asked for (--inbox)": [wid(955)],
    }
    rows = await pg_pool.fetch(
        "SELECT seq, kind, payload::text AS p, at, life FROM ticket_inputs "
        "WHERE workflow_id = $1 ORDER BY seq",
        wid(951),
    )
    assert [(r["kind"], r["at"], r["life"]) for r in rows] == [
        ("open", CREATED, "imported"),
        ("customer_replied", CREATED, "imported"),
        ("agent_replied", CREATED + timedelta(minutes=25), "imported"),
    ]
    assert not any("4242" in r["p"] for r in rows)  # no message body is kept
    kinds = await pg_pool.fetch(
        "SELECT kind FROM ticket_inputs WHERE workflow_id = $1 ORDER BY seq", wid(952)
    )
    assert [r["kind"] for r in kinds][-1] == "resolved"

    # Again: nothing written twice, and why.
    before = await pg_pool.fetchval("SELECT count(*) FROM ticket_inputs")
    async with pg_pool.acquire() as conn:
        again = await importer(chatwoot, conn).run(since)
    assert again.imported == [] and sorted(again.skipped["already recorded"]) == [
        wid(951),
        wid(952),
    ]
    assert await pg_pool.fetchval("SELECT count(*) FROM ticket_inputs") == before
    assert "Skipped 5:" in again.text() and "already recorded" in again.text()

    # What a 20-minute acknowledgment would have done to last month's conversations.
    draft = draft_with_first_ack(tmp_path, 20)
    code, out, err = await ticketflow(
        postgres_dsn, "whatif", str(draft), "--since", "30d", "--inbox", str(INBOX), "--json"
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["imported_from_chatwoot"] == 2
    assert result["current"]["tickets"] == result["draft"]["tickets"] == 2
    assert result["differences_from_reality"] == []
    assert result["draft"]["breaches"]["first_ack"] == (
        result["current"]["breaches"].get("first_ack", 0) + 1
    )
    assert [c["ticket"] for c in result["changed_tickets"]] == [wid(951)]
    code, text, _ = await ticketflow(
        postgres_dsn, "whatif", str(draft), "--since", "30d", "--inbox", str(INBOX)
    )
    assert code == 0 and "Imported from Chatwoot: 2 of these tickets" in text


async def test_missing_settings_exit_2(postgres_dsn):
    code, _, err = await ticketflow(postgres_dsn, "import", "chatwoot")
    assert code == 2 and "CHATWOOT_BASE_URL" in err and "required for import chatwoot" in err
