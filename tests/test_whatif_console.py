"""`/console/whatif` (console/whatif.py) over HTTP: behind the console login, hardened
like every console page, a run only from the page (htmx), and the same report as the
CLI on tickets recorded by real workflows (tests/whatif_scenario.py), heatmap inline."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from pydantic import SecretStr

from infra.settings import Settings
from starter.bridge import create_app
from tests.helpers import (
    CONSOLE_TOKEN,
    FORM,
    HX,
    DownGateway,
    assert_hardened,
    browser,
    login,
)
from tests.whatif_scenario import draft_with_first_ack


def app(dsn: str):
    settings = Settings(
        _env_file=None,
        webhook_token=SecretStr("x" * 20),
        temporal_address="nowhere:7233",
        console_operators=SecretStr(json.dumps({CONSOLE_TOKEN: "alicia"})),
        database_url=SecretStr(dsn),
    )
    return create_app(settings, DownGateway(settings))


async def test_the_whatif_page_needs_a_login_and_is_hardened(postgres_dsn):
    async with browser(app(postgres_dsn)) as c:
        r = await c.get("/console/whatif")
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login")
        await login(c)
        r = await c.get("/console/whatif")
        assert (
            r.status_code == 200
            and 'hx-post="/console/whatif"' in r.text
            and "vip-concierge" in r.text
        )
        assert_hardened(r)
        r = await c.post("/console/whatif", content="pack=vip-concierge", headers=FORM)
        assert r.status_code == 403  # a run comes from the page (htmx), as every console POST
        r = await c.post(
            "/console/whatif", content=urlencode({"draft": "name: [unclosed"}), headers=HX
        )
        assert r.status_code == 422 and "not valid YAML" in r.text
        assert_hardened(r)


async def test_the_console_shows_the_cli_report_for_a_draft(scenario, postgres_dsn, tmp_path):
    draft = draft_with_first_ack(tmp_path, 20).read_text()
    form = urlencode({"draft": draft, "since": "2026-11-17", "inbox": str(scenario.inbox)})
    async with browser(app(postgres_dsn)) as c:
        await login(c)
        r = await c.post("/console/whatif", content=form, headers=HX)
    assert r.status_code == 200, r.text[:500]
    assert_hardened(r)
    page = r.text
    close_call, early = scenario.tickets["close_call"], scenario.tickets["early"]
    assert f">{close_call}</a>" in page and f">{early}</a>" not in page
    assert f"/namespaces/default/workflows/{close_call}" in page and "pages: lola" in page
    assert "+ Tue 2026-11-17 10:20:00 page → lola" in page
    assert "<svg" in page and "style=" not in page.split("<svg", 1)[1]
    assert "No difference: the 4 tickets replayed" in page
    assert "<th>  pages to lola</th><td>2</td><td>3</td><td>+1</td>" in page


async def test_one_replay_at_a_time(scenario, postgres_dsn, tmp_path, monkeypatch):
    """The replay is CPU work in the bridge's process: a second run while one is
    going gets 429 instead of a second thread of it."""
    import asyncio
    import threading

    from console import whatif

    started, release = threading.Event(), threading.Event()
    real = whatif.compute

    def slow(*args, **kwargs):
        started.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(whatif, "compute", slow)
    draft = draft_with_first_ack(tmp_path, 20).read_text()
    form = urlencode({"draft": draft, "since": "2026-11-17", "inbox": str(scenario.inbox)})
    async with browser(app(postgres_dsn)) as c:
        await login(c)
        first = asyncio.create_task(c.post("/console/whatif", content=form, headers=HX))
        try:
            assert await asyncio.to_thread(started.wait, 30)
            second = await c.post("/console/whatif", content=form, headers=HX)
        finally:
            release.set()  # the first run goes on, whatever happened
        assert (await first).status_code == 200
    assert second.status_code == 429 and "another what-if is running" in second.text
    assert_hardened(second)
