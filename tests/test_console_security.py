"""The console's browser hardening over HTTP (console/security.py and
console/throttle.py): the security headers on every console response and
`nosniff` on the webhooks, the framing rules (nobody frames the console;
only Chatwoot's origin frames the Dashboard App), the cross-origin POST
guard, no inline script or style in the templates, and login throttling
(429 with Retry-After, logged without the token, per client).
(In a real browser: test_console_frames.py.)"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from console.security import origin_of
from console.throttle import LoginThrottle, client_key
from infra.settings import Settings
from starter.bridge import create_app
from tests.helpers import CONSOLE_TOKEN, FORM, HX, DownGateway, assert_hardened, browser, login

CONSOLE = Path(__file__).resolve().parent.parent / "console"
CHATWOOT = "http://chatwoot.example:3000"


class BrokenGateway(DownGateway):
    async def client(self, timeout: float = 5.0):
        raise RuntimeError("a bug, not an outage")


def bridge(chatwoot: str | None = CHATWOOT, gateway: type = DownGateway):
    settings = Settings(
        _env_file=None,
        webhook_token=SecretStr("x" * 20),
        temporal_address="nowhere:7233",
        console_operators=SecretStr(json.dumps({CONSOLE_TOKEN: "alicia"})),
        chatwoot_base_url=chatwoot,
    )
    return create_app(settings, gateway(settings))


async def test_every_console_response_carries_the_headers():
    app = bridge()
    wid = "ticket-1-5"
    async with browser(app) as c:
        anonymous = [
            await c.get("/console"),
            await c.get(f"/console/tickets/{wid}/panel", headers={"hx-request": "1"}),
            await c.get("/console/login"),
            await c.get("/console/no-such-page"),
        ]
        assert [r.status_code for r in anonymous] == [
            303,
            401,
            200,
            404,
        ]  # redirect, htmx 401, page, error
        assert (await login(c)).status_code == 303
        seen = [
            *anonymous,
            await c.get("/console"),
            await c.get(f"/console/tickets/{wid}"),
            await c.get(f"/console/tickets/{wid}/panel"),
            await c.get(
                f"/console/tickets/{wid}/escalate-fields",
                params={"policy": "vip-concierge", "reason": "x"},
            ),
            await c.post(f"/console/tickets/{wid}/acknowledge", content="go=1", headers=HX),
            await c.post(
                f"/console/tickets/{wid}/acknowledge", content="go=1", headers=FORM
            ),  # 403: not htmx
            await c.get("/console/find", params={"q": "42"}),  # 503: Temporal down
            await c.get("/console/whatif"),
            await c.post(
                "/console/whatif", content="pack=vip-concierge", headers=FORM
            ),  # 403: not htmx
            *[
                await c.get(f"/console/static/{p.name}")
                for p in sorted((CONSOLE / "static").iterdir())
            ],
        ]
        app_pages = [
            await c.get("/console/chatwoot"),
            await c.get("/console/chatwoot/panel", params={"conversation": 5}),
            await c.get("/console/chatwoot/panel"),
        ]  # 422: no conversation
        seen.append(await c.post("/console/logout", content="next=/console", headers=FORM))
    for r in seen:
        assert_hardened(r)
    for r in app_pages:
        assert_hardened(r, framed_by=CHATWOOT)
    assert {r.status_code for r in seen + app_pages} >= {200, 303, 401, 403, 404, 422}
    # Every console route was asked for above.
    asked = {r.request.url.path for r in seen + app_pages}
    patterns = [
        re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        for path in app.openapi()["paths"]
        if path.startswith("/console")
    ]
    assert len(patterns) >= 9
    assert all(any(p.match(path) for path in asked) for p in patterns), [
        p.pattern for p in patterns
    ]


async def test_an_unexpected_error_is_hardened_too():
    async with browser(bridge(gateway=BrokenGateway), raise_errors=False) as c:
        await login(c)
        r = await c.get("/console")
    assert r.status_code == 500 and "a bug" not in r.text
    assert_hardened(r)


async def test_webhooks_get_nosniff_only():
    async with browser(bridge()) as c:
        for r in [
            await c.post(
                "/webhooks/chatwoot", content="{}", headers={"content-type": "application/json"}
            ),
            await c.post("/webhooks/chatwoot", content="x", headers={"content-type": "text/plain"}),
            await c.get("/healthz"),
        ]:
            assert r.headers["x-content-type-options"] == "nosniff"
            assert "content-security-policy" not in r.headers and "x-frame-options" not in r.headers


@pytest.mark.parametrize(
    "base, origin",
    [
        ("https://chat.example.com/", "https://chat.example.com"),
        ("https://chat.example.com:443/app/", "https://chat.example.com"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("https://[::1]:8443/x", "https://[::1]:8443"),
        (None, None),
    ],
)
def test_chatwoots_origin_from_its_base_url(base, origin):
    assert origin_of(base) == origin


async def test_only_chatwoot_frames_the_dashboard_app_and_its_login():
    async with browser(bridge("https://chat.example.com/some/path/")) as c:
        to_app = await c.get("/console/chatwoot")
        assert (
            to_app.status_code == 303
            and to_app.headers["location"] == "/console/login?next=/console/chatwoot"
        )
        app_login = await c.get(to_app.headers["location"])
        wrong = await login(c, "wrong-token-0000000000", nxt="/console/chatwoot")
        right = await login(c, nxt="/console/chatwoot")
        out = await c.post("/console/logout", content="next=/console/chatwoot", headers=FORM)
        plain_login = await c.get("/console/login?next=/console/tickets/ticket-1-5")
        bad_next = await c.get("/console/login?next=/console/chatwootish")
    for r in (to_app, app_login, wrong, right, out):
        assert_hardened(r, framed_by="https://chat.example.com")
    assert wrong.status_code == 401 and "unknown token" in wrong.text
    assert right.headers["location"] == "/console/chatwoot"
    assert out.headers["location"] == "/console/login?next=/console/chatwoot"
    assert_hardened(plain_login)
    assert_hardened(bad_next)


async def test_without_chatwoot_the_app_is_framed_by_nothing_but_itself():
    with capture_logs() as logs:
        app = bridge(chatwoot=None)
    assert any("no CHATWOOT_BASE_URL" in e["event"] for e in logs)
    async with browser(app) as c:
        await login(c)
        r = await c.get("/console/chatwoot")
    assert r.status_code == 200 and 'data-chatwoot-origin=""' in r.text
    assert_hardened(r, framed_by="'self'")


async def test_state_changing_requests_from_another_origin_are_refused():
    async with browser(bridge()) as c:
        assert (await login(c)).status_code == 303
        act = "/console/tickets/ticket-1-5/acknowledge"
        for foreign in (
            {"origin": "http://evil.example"},
            {"origin": "null"},
            {"origin": "http://console.test:8080"},
            {"sec-fetch-site": "cross-site"},
            {"sec-fetch-site": "same-site"},
            {"sec-fetch-site": "cross-site", "origin": "http://console.test"},
        ):
            r = await c.post(act, content="go=1", headers={**HX, **foreign})
            assert r.status_code == 403 and r.json()["error"] == "cross-origin request refused", (
                foreign
            )
            assert_hardened(r)
        for own in ({"origin": "http://console.test"}, {"sec-fetch-site": "same-origin"}, {}):
            r = await c.post(act, content="go=1", headers={**HX, **own})
            assert r.status_code == 200 and "cannot reach Temporal" in r.text, (
                own
            )  # reached the ticket
        r = await c.post(
            "/console/logout", content="", headers={**FORM, "origin": "http://evil.example"}
        )
        assert r.status_code == 403
        r = await c.post(
            "/console/login",
            content=f"token={CONSOLE_TOKEN}",
            headers={**FORM, "sec-fetch-site": "cross-site"},
        )
        assert r.status_code == 403 and "set-cookie" not in r.headers  # no login CSRF
        r = await c.get(
            "/console", headers={"sec-fetch-site": "cross-site"}
        )  # a link from elsewhere still opens
        assert r.status_code == 200


def test_templates_need_no_inline_script_style_or_eval():
    for page in sorted((CONSOLE / "templates").glob("*.html")):
        text = re.sub(r"\{#.*?#\}", "", page.read_text(), flags=re.S)  # Jinja comments are not sent
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), page.name
        assert not re.search(
            r"<style|\sstyle=|\son[a-z]+=|hx-on|hx-vars|\bjs:|javascript:", text, re.I
        ), page.name
    config = re.search(
        r"<meta name=\"htmx-config\" content='([^']*)'>",
        (CONSOLE / "templates/base.html").read_text(),
    )
    assert json.loads(config.group(1)) == {
        "includeIndicatorStyles": False,
        "allowEval": False,
        "allowScriptTags": False,
    }
    assert ".htmx-indicator" in (CONSOLE / "static/console.css").read_text()
    assert not re.search(
        r"\beval\(|new Function|innerHTML", (CONSOLE / "static/console.js").read_text()
    )


async def test_wrong_tokens_are_throttled_per_client_and_logged_without_the_token(caplog, capsys):
    caplog.set_level(logging.DEBUG)
    now = [1000.0]
    app = bridge()
    app.state.console.throttle = LoginThrottle(clock=lambda: now[0])
    guess = "guess-token-0123456789-secret"
    with capture_logs() as logs:
        async with (
            browser(app, peer="203.0.113.7") as guesser,
            browser(app, peer="198.51.100.2") as other,
        ):
            answers = [await login(guesser, f"{guess}{i}") for i in range(6)]
            assert [r.status_code for r in answers] == [401] * 5 + [429]
            assert (
                answers[-1].headers["retry-after"] == "300"
                and "too many failed logins" in answers[-1].text
            )
            assert_hardened(answers[-1])
            now[0] += 120
            r = await login(guesser)  # even the right token waits: the throttle does not look at it
            assert (
                r.status_code == 429
                and r.headers["retry-after"] == "180"
                and "set-cookie" not in r.headers
            )
            assert (await login(other)).status_code == 303  # another client is not throttled
            now[0] += 181  # the window has passed
            assert (await login(guesser)).status_code == 303
            assert [(await login(guesser, "x" * 20)).status_code for _ in range(5)] == [
                401
            ] * 5  # count was reset
    refused = [e for e in logs if e["event"] == "console login refused"]
    throttled = [e for e in logs if e["event"] == "console login throttled"]
    assert len(refused) == 10 and {e["client"] for e in refused} == {"203.0.113.7"}
    assert [e["failures"] for e in refused[:5]] == [1, 2, 3, 4, 5]
    assert [e["retry_after"] for e in throttled] == [300, 180] and all(
        e["log_level"] == "warning" for e in throttled
    )
    out = capsys.readouterr()
    everything = repr(logs) + caplog.text + out.out + out.err
    assert guess not in everything and CONSOLE_TOKEN not in everything


def test_the_throttle_window_and_its_memory_bound():
    now = [0.0]
    throttle = LoginThrottle(limit=3, window=60, max_clients=3, clock=lambda: now[0])
    for t in (0, 10, 20):
        now[0] = t
        throttle.failed("a")
    assert throttle.retry_after("a") == 40  # until the oldest failure leaves the window
    now[0] = 60
    assert throttle.retry_after("a") is None  # one failure left the window: one more try
    assert throttle.failed("a") == 3 and throttle.retry_after("a") == 10
    throttle.succeeded("a")
    assert throttle.retry_after("a") is None and len(throttle) == 0
    now[0] = 100
    for client in ("b", "c", "d"):
        throttle.failed(client)
    now[0] = 170  # b, c and d have expired: they make room first
    throttle.failed("e")
    assert len(throttle) == 1
    for client in ("f", "g", "h"):
        throttle.failed(client)
    assert (
        len(throttle) == 3 and throttle.failed("f") == 2
    )  # e, seen least recently, made room for h


def test_a_client_is_its_address_or_its_ipv6_block():
    assert client_key("203.0.113.7") == "203.0.113.7"
    assert (
        client_key("2001:db8:1:2:aaaa::1")
        == client_key("2001:db8:1:2:bbbb::9")
        == "2001:db8:1:2::/64"
    )
    assert client_key("::ffff:198.51.100.2") == "198.51.100.2"
    assert client_key(None) == "unknown" and client_key("testclient") == "testclient"


async def test_the_bridge_does_not_publish_its_api_schema():
    """An internal admin tool does not hand a visitor the map of its routes."""
    async with browser(bridge()) as c:
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert (await c.get(path)).status_code == 404, path
