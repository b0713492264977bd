"""A Chatwoot Application API stand-in (the endpoints ticketflow uses).

Base path `/api/v1/accounts/{account_id}`, header `api_access_token`, JSON
bodies; errors are `{"error": "..."}` with 401/404/422 like the real API.
Labels and conversation custom attributes are *replaced* by a POST, as in
Chatwoot. Conversations are created on first use when `auto_create` is set
(the dev stack), else they must be seeded via `POST /_sandbox/conversations`.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sandbox.recorder import Recorder, mount_control

MESSAGE_TYPES = {"incoming": 0, "outgoing": 1, "activity": 2, "template": 3}
STATUSES = {"open", "resolved", "pending", "snoozed"}
MESSAGES_PAGE = 20  # messages a list call returns, as Chatwoot's MessageFinder does


class SeedConversation(BaseModel):
    account_id: int
    conversation_id: int
    inbox_id: int = 1
    status: str = "open"
    labels: list[str] = Field(default_factory=list)
    custom_attributes: dict[str, Any] = Field(default_factory=dict)
    contact: dict[str, Any] = Field(default_factory=dict)
    created_at: int | None = None  # Unix seconds; now when absent (an older conversation)


class SeedMessage(BaseModel):
    """A message as Chatwoot holds it, whoever wrote it and whenever (tests of
    what the bridge never heard: a customer's message, an agent's reply)."""

    message_type: str = "incoming"
    content: str = "hello"
    private: bool = False
    sender: dict[str, Any] = Field(default_factory=lambda: {"id": 1, "type": "contact"})
    created_at: int | None = None  # Unix seconds; now when absent
    content_attributes: dict[str, Any] = Field(default_factory=dict)


class ChatwootState:
    def __init__(self, token: str, auto_create: bool) -> None:
        self.token = token
        self.auto_create = auto_create
        self.conversations: dict[tuple[int, int], dict[str, Any]] = {}
        self.message_ids = itertools.count(1000)
        self.agents = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
        self.teams = {1, 2, 3, 4, 5}

    def seed(self, s: SeedConversation) -> dict[str, Any]:
        conv = {
            "id": s.conversation_id,
            "account_id": s.account_id,
            "inbox_id": s.inbox_id,
            "status": s.status,
            "labels": list(s.labels),
            "custom_attributes": dict(s.custom_attributes),
            "meta": {"sender": {"type": "contact", **s.contact}, "assignee": None, "team": None},
            "messages": [],
            "created_at": s.created_at if s.created_at is not None else int(time.time()),
            "last_activity_at": s.created_at if s.created_at is not None else int(time.time()),
            "snoozed_until": None,
        }
        self.conversations[(s.account_id, s.conversation_id)] = conv
        return conv

    def get(self, account: int, conv: int) -> dict[str, Any] | None:
        found = self.conversations.get((account, conv))
        if found is None and self.auto_create:
            found = self.seed(SeedConversation(account_id=account, conversation_id=conv))
        return found


def _err(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _public(conv: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in conv.items() if k != "messages"}


def create_chatwoot_app(token: str = "sandbox-token", *, auto_create: bool = True) -> FastAPI:
    app = FastAPI(title="Chatwoot sandbox", docs_url=None, redoc_url=None)
    state = ChatwootState(token, auto_create)
    recorder = Recorder()
    app.state.chatwoot = state
    app.state.recorder = recorder
    mount_control(app, recorder)

    @app.post("/_sandbox/conversations")
    async def seed(s: SeedConversation) -> dict[str, Any]:
        return _public(state.seed(s))

    @app.post("/_sandbox/conversations/{account_id}/{conversation_id}/messages")
    async def seed_message(account_id: int, conversation_id: int, m: SeedMessage):
        conv = state.conversations.get((account_id, conversation_id))
        if conv is None or m.message_type not in MESSAGE_TYPES:
            return _err(404 if conv is None else 422, "unknown conversation or message_type")
        at = m.created_at if m.created_at is not None else int(time.time())
        msg = {
            "id": next(state.message_ids),
            "content": m.content,
            "account_id": account_id,
            "inbox_id": conv["inbox_id"],
            "conversation_id": conversation_id,
            "message_type": MESSAGE_TYPES[m.message_type],
            "content_type": "text",
            "content_attributes": m.content_attributes,
            "private": m.private,
            "created_at": at,
            "source_id": None,
            "sender": m.sender,
        }
        conv["messages"].append(msg)
        conv["last_activity_at"] = at  # as Chatwoot does for every new message
        return msg

    async def guard(request: Request, account: int, conv: int | None):
        """Common checks; return (body, conversation) or an error response."""
        raw = await request.body()
        body: Any = None
        if raw:
            try:
                import json

                body = json.loads(raw)
            except ValueError:
                recorder.record(request, raw.decode(errors="replace"), 400)
                return None, None, _err(400, "malformed JSON")
        failure = await recorder.maybe_fail(request, body)
        if failure is not None:
            return body, None, failure
        if request.headers.get("api_access_token") != state.token:
            recorder.record(request, body, 401)
            return body, None, _err(401, "You need to sign in or sign up before continuing.")
        found = None
        if conv is not None:
            found = state.get(account, conv)
            if found is None:
                recorder.record(request, body, 404)
                return body, None, _err(404, "Resource could not be found")
        return body, found, None

    def ok(request: Request, body: Any, response: Any, status: int = 200) -> JSONResponse:
        recorder.record(request, body, status, response)
        return JSONResponse(response, status_code=status)

    base = "/api/v1/accounts/{account_id}/conversations"

    @app.get(base)
    async def list_conversations(
        request: Request,
        account_id: int,
        status: str = "open",
        page: int = 1,
        sort_by: str | None = None,
    ):
        body, _, error = await guard(request, account_id, None)
        if error:
            return error
        convs = [
            _public(c)
            for (a, _), c in sorted(state.conversations.items())
            if a == account_id and (status == "all" or c["status"] == status)
        ]
        if sort_by == "last_activity_at_desc":  # Chatwoot's default order; the stand-in keeps ids
            convs.sort(key=lambda c: -c["last_activity_at"])
        chunk = convs[(page - 1) * 25 : page * 25]
        return ok(request, body, {"data": {"meta": {"all_count": len(convs)}, "payload": chunk}})

    @app.get(base + "/{conversation_id}")
    async def show(request: Request, account_id: int, conversation_id: int):
        body, conv, error = await guard(request, account_id, conversation_id)
        return error or ok(request, body, _public(conv))

    @app.get(base + "/{conversation_id}/messages")
    async def list_messages(
        request: Request, account_id: int, conversation_id: int, before: int | None = None
    ):
        """The latest 20 messages, oldest first; with `before`, the 20 before that id."""
        body, conv, error = await guard(request, account_id, conversation_id)
        if error:
            return error
        msgs = [m for m in conv["messages"] if before is None or m["id"] < before]
        return ok(request, body, {"meta": {}, "payload": msgs[-MESSAGES_PAGE:]})

    @app.post(base + "/{conversation_id}/messages")
    async def create_message(request: Request, account_id: int, conversation_id: int):
        body, conv, error = await guard(request, account_id, conversation_id)
        if error:
            return error
        if not isinstance(body, dict):
            return ok(request, body, {"error": "body must be a JSON object"}, 422)
        content = body.get("content")
        if not isinstance(content, str) or not content.strip():
            return ok(request, body, {"error": "Content can't be blank"}, 422)
        mtype = body.get("message_type", "outgoing")
        if mtype not in ("outgoing", "incoming"):
            return ok(request, body, {"error": f"message_type {mtype!r} is not valid"}, 422)
        attrs = body.get("content_attributes") or {}
        if not isinstance(attrs, dict):
            return ok(request, body, {"error": "content_attributes must be an object"}, 422)
        msg = {
            "id": next(state.message_ids),
            "content": content,
            "account_id": account_id,
            "inbox_id": conv["inbox_id"],
            "conversation_id": conversation_id,
            "message_type": MESSAGE_TYPES[mtype],
            "content_type": "text",
            "content_attributes": attrs,
            "private": bool(body.get("private", False)),
            "echo_id": body.get("echo_id"),
            "created_at": int(time.time()),
            "source_id": None,
            "sender": {"id": 1, "name": "ticketflow", "type": "user"},
        }
        conv["messages"].append(msg)
        return ok(request, body, msg)

    @app.get(base + "/{conversation_id}/labels")
    async def get_labels(request: Request, account_id: int, conversation_id: int):
        body, conv, error = await guard(request, account_id, conversation_id)
        return error or ok(request, body, {"payload": conv["labels"]})

    @app.post(base + "/{conversation_id}/labels")
    async def set_labels(request: Request, account_id: int, conversation_id: int):
        body, conv, error = await guard(request, account_id, conversation_id)
        if error:
            return error
        labels = body.get("labels") if isinstance(body, dict) else None
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            return ok(request, body, {"error": "labels must be a list of strings"}, 422)
        conv["labels"] = list(dict.fromkeys(labels))  # replaces the whole list, as Chatwoot does
        return ok(request, body, {"payload": conv["labels"]})

    @app.post(base + "/{conversation_id}/assignments")
    async def assign(request: Request, account_id: int, conversation_id: int):
        body, conv, error = await guard(request, account_id, conversation_id)
        if error:
            return error
        if not isinstance(body, dict) or ("assignee_id" not in body and "team_id" not in body):
            return ok(request, body, {"error": "assignee_id or team_id is required"}, 422)
        if "assignee_id" in body:
            aid = body["assignee_id"]
            if aid is not None and aid not in state.agents:
                return ok(request, body, {"error": "Resource could not be found"}, 404)
            conv["meta"]["assignee"] = None if aid is None else {"id": aid, "type": "user"}
            return ok(request, body, conv["meta"]["assignee"] or {})
        tid = body["team_id"]
        if tid is not None and tid not in state.teams:
            return ok(request, body, {"error": "Resource could not be found"}, 404)
        conv["meta"]["team"] = None if tid is None else {"id": tid}
        return ok(request, body, conv["meta"]["team"] or {})

    @app.post(base + "/{conversation_id}/toggle_status")
    async def toggle_status(request: Request, account_id: int, conversation_id: int):
        body, conv, error = await guard(request, account_id, conversation_id)
        if error:
            return error
        status = body.get("status") if isinstance(body, dict) else None
        if status not in STATUSES:
            return ok(request, body, {"error": f"status must be one of {sorted(STATUSES)}"}, 422)
        conv["status"] = status
        conv["snoozed_until"] = body.get("snoozed_until") if status == "snoozed" else None
        return ok(
            request,
            body,
            {
                "meta": {},
                "payload": {
                    "success": True,
                    "conversation_id": conversation_id,
                    "current_status": status,
                },
            },
        )

    @app.post(base + "/{conversation_id}/custom_attributes")
    async def custom_attributes(request: Request, account_id: int, conversation_id: int):
        body, conv, error = await guard(request, account_id, conversation_id)
        if error:
            return error
        attrs = body.get("custom_attributes") if isinstance(body, dict) else None
        if not isinstance(attrs, dict):
            return ok(request, body, {"error": "custom_attributes must be an object"}, 422)
        conv["custom_attributes"] = attrs  # replaces the whole object
        return ok(request, body, {"custom_attributes": attrs})

    return app
