"""A Slack Web API stand-in: the methods ticketflow calls, under `/api/`.

`chat.postMessage`, `chat.update`, `chat.postEphemeral`,
`conversations.open` and `conversations.history`, answered in Slack's
shapes (HTTP 200 with `{"ok": true, ...}`, or `{"ok": false, "error":
...}`) and refusing what Slack refuses: no or a wrong bot token
(`not_authed`, `invalid_auth`), a channel that is not an id it knows
(`channel_not_found`), a message with neither text nor blocks (`no_text`),
malformed blocks (`invalid_blocks`: not a list of typed blocks, more than
50, a section text over 3000 characters, a repeated or over-long
`block_id`), an update of a message that does not exist
(`message_not_found`). Every call is also checked against Slack's
published OpenAPI spec (sandbox/slack_contract.py) and what breaks it is
kept in `/_sandbox/slack/violations`; `/_sandbox/slack/messages` shows
each channel's messages as they are now, `/_sandbox/calls` every call.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox.recorder import Recorder, mount_control
from sandbox.slack_contract import violations

BLOCK_TYPES = {"section", "context", "actions", "divider", "header", "image", "input", "rich_text"}
MAX_BLOCKS = 50


def block_errors(blocks: Any) -> str | None:
    """Why Slack would answer `invalid_blocks` (None: it would not)."""
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return "blocks is not JSON"
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return f"blocks must be a list of at most {MAX_BLOCKS}"
    ids: set[str] = set()
    for b in blocks:
        if not isinstance(b, dict) or b.get("type") not in BLOCK_TYPES:
            return "a block without a known type"
        bid = b.get("block_id")
        if bid is not None:
            if not isinstance(bid, str) or len(bid) > 255 or bid in ids:
                return "block_id repeated or over 255 characters"
            ids.add(bid)
        text = b.get("text")
        if isinstance(text, dict) and len(str(text.get("text", ""))) > 3000:
            return "a text over 3000 characters"
        if b["type"] == "actions" and not b.get("elements"):
            return "an actions block without elements"
    return None


def parsed_blocks(blocks: Any) -> list[dict[str, Any]]:
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks or [])


def create_slack_app(token: str | None = None) -> FastAPI:
    """`token=None` accepts any `xoxb-` bot token (dev); a string enforces it."""
    app = FastAPI(title="Slack Web API sandbox", docs_url=None, redoc_url=None)
    recorder = Recorder()
    channels: dict[str, list[dict[str, Any]]] = {}  # channel id -> messages, oldest first
    ephemeral: list[dict[str, Any]] = []
    broken: list[dict[str, Any]] = []
    clock = itertools.count(1)
    app.state.recorder = recorder
    app.state.channels = channels
    app.state.ephemeral = ephemeral
    app.state.violations = broken
    mount_control(app, recorder)

    def new_ts() -> str:
        return f"{int(time.time())}.{next(clock):06d}"

    def known(channel: Any) -> bool:
        return isinstance(channel, str) and len(channel) > 2 and channel[0] in "CGD"

    @app.get("/_sandbox/slack/messages")
    async def messages() -> dict[str, list[dict[str, Any]]]:
        return channels

    @app.get("/_sandbox/slack/ephemeral")
    async def ephemerals() -> list[dict[str, Any]]:
        return ephemeral

    @app.get("/_sandbox/slack/violations")
    async def contract() -> list[dict[str, Any]]:
        return broken

    @app.api_route("/api/{method}", methods=["GET", "POST"])
    async def api(method: str, request: Request) -> JSONResponse:
        ctype = request.headers.get("content-type", "")
        raw = await request.body()
        params: dict[str, Any] = dict(request.query_params)
        if request.method == "POST" and raw:
            if ctype.startswith("application/json"):
                try:
                    params.update(json.loads(raw))
                except ValueError:
                    return JSONResponse({"ok": False, "error": "invalid_json"})
            else:
                params.update(parse_qsl(raw.decode(errors="replace")))
        auth = request.headers.get("authorization", "")
        bearer = auth.startswith("Bearer ")
        wrong = violations(method, request.method, ctype, params, bearer)
        if wrong:
            broken.append({"method": method, "violations": wrong})
        failure = await recorder.maybe_fail(request, params)
        if failure is not None:
            return failure
        given = auth[len("Bearer ") :] if bearer else params.get("token")
        if not given:
            body: dict[str, Any] = {"ok": False, "error": "not_authed"}
        elif (token is not None and given != token) or not str(given).startswith("xoxb-"):
            body = {"ok": False, "error": "invalid_auth"}
        else:
            body = answer(method, params)
        recorder.record(request, params, 200, body)
        return JSONResponse(body)

    def answer(method: str, p: dict[str, Any]) -> dict[str, Any]:
        if method == "conversations.open":
            users = str(p.get("users") or "")
            if not users or any(u[:1] not in "UW" for u in users.split(",")):
                return {"ok": False, "error": "user_not_found"}
            dm = "D" + hashlib.sha256(users.encode()).hexdigest()[:10].upper()
            channels.setdefault(dm, [])
            return {"ok": True, "channel": {"id": dm}}
        channel = p.get("channel")
        if not isinstance(channel, str) or not known(channel):
            return {"ok": False, "error": "channel_not_found"}
        history = channels.setdefault(channel, [])
        if method == "conversations.history":
            oldest = float(p.get("oldest") or 0)
            limit = min(int(p.get("limit") or 100), 999)
            newest_first = [m for m in reversed(history) if float(m["ts"]) > oldest]
            start = int(p.get("cursor") or 0)
            page = newest_first[start : start + limit]
            more = start + limit < len(newest_first)
            return {
                "ok": True,
                "messages": page,
                "has_more": more,
                "pin_count": 0,
                "channel_actions_ts": None,
                "channel_actions_count": 0,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""},
            }
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            if not p.get("text") and not p.get("blocks"):
                return {"ok": False, "error": "no_text"}
            if p.get("blocks") is not None and (why := block_errors(p["blocks"])):
                return {"ok": False, "error": "invalid_blocks", "errors": [why]}
        if method == "chat.postEphemeral":
            if str(p.get("user") or "")[:1] not in ("U", "W"):
                return {"ok": False, "error": "user_not_in_channel"}
            ephemeral.append({"channel": channel, "user": p["user"], "text": p.get("text")})
            return {"ok": True, "message_ts": new_ts()}
        if method == "chat.postMessage":
            msg = {
                "type": "message",
                "ts": new_ts(),
                "text": p.get("text", ""),
                "blocks": parsed_blocks(p.get("blocks")),
                "bot_id": "B0SANDBOX",
            }
            history.append(msg)
            return {"ok": True, "channel": channel, "ts": msg["ts"], "message": msg}
        if method == "chat.update":
            found = next((m for m in history if m["ts"] == p.get("ts")), None)
            if found is None:
                return {"ok": False, "error": "message_not_found"}
            found.update(
                text=p.get("text", found["text"]),
                blocks=parsed_blocks(p.get("blocks")) if "blocks" in p else found["blocks"],
                edited={"user": "B0SANDBOX", "ts": new_ts()},
            )
            return {"ok": True, "channel": channel, "ts": found["ts"], "text": found["text"]}
        return {"ok": False, "error": "unknown_method"}

    return app
