"""Chatwoot Application API activities (one shared httpx client).

Base `{CHATWOOT_BASE_URL}/api/v1/accounts/{account_id}`, header
`api_access_token`. Notes:
- every message ticketflow posts carries `content_attributes.ticketflow.key`
  (the action key) and `echo_id`; a retried attempt first looks for that key
  among the conversation's messages, so a timeout never yields a second copy;
  the bridge also uses the marker to ignore its own messages' webhooks;
- `POST .../labels` replaces the whole list, so adding a label is read,
  merge, write; `POST .../custom_attributes` replaces the whole object, so
  merging is read, merge, write too;
- a private note ends with a link to the ticket's page in the console when
  PUBLIC_URL is set (infra/links.py); public replies never do.
"""

from __future__ import annotations

from typing import Any

import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.delivery_metrics import attempt
from activities.http_errors import raise_for
from activities.stragglers import let_earlier_attempt_land
from infra.links import console_ticket_url
from infra.settings import Settings
from models.chatwoot import (
    ECHO_MARKER,
    AssignInput,
    ChatwootCallResult,
    LabelsResult,
    MergeAttributesInput,
    PostMessageInput,
    PostMessageResult,
    ReplyCheckInput,
    ReplyCheckResult,
    SetStatusInput,
    UpdateLabelsInput,
    instant,
)
from models.ticket import ticket_workflow_id

log = structlog.get_logger(__name__)


class ChatwootActivities:
    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self.http = http
        self.base = (
            str(settings.chatwoot_base_url).rstrip("/") if settings.chatwoot_base_url else None
        )
        self._token = settings.chatwoot_api_token
        self.settings = settings

    def _url(self, account_id: int, conversation_id: int, suffix: str = "") -> str:
        if not self.base or not self._token:
            raise ApplicationError(
                "Chatwoot is not configured (CHATWOOT_BASE_URL, CHATWOOT_API_TOKEN)",
                type="ChatwootNotConfigured",
                non_retryable=True,
            )
        return f"{self.base}/api/v1/accounts/{account_id}/conversations/{conversation_id}{suffix}"

    async def _call(self, method: str, url: str, json: dict | None = None) -> dict:
        async with attempt("chatwoot", method):
            return await self._request(method, url, json)

    async def _request(self, method: str, url: str, json: dict | None) -> dict:
        headers = {"api_access_token": self._token.get_secret_value()} if self._token else {}
        try:
            resp = await self.http.request(method, url, json=json, headers=headers)
        except httpx.TimeoutException:
            raise ApplicationError(
                f"Chatwoot {method} {httpx.URL(url).path} timed out", type="ChatwootTimeout"
            ) from None
        except httpx.TransportError as exc:
            raise ApplicationError(
                f"Chatwoot {method} {httpx.URL(url).path}: {type(exc).__name__}",
                type="ChatwootUnavailable",
            ) from None
        raise_for("Chatwoot", resp)
        return resp.json() if resp.content else {}

    async def _already_posted(self, inp: PostMessageInput) -> int | None:
        body = await self._call("GET", self._url(inp.account_id, inp.conversation_id, "/messages"))
        for msg in body.get("payload") or []:
            attrs = msg.get("content_attributes") or {}
            marker = attrs.get(ECHO_MARKER) if isinstance(attrs, dict) else None
            if (isinstance(marker, dict) and marker.get("key") == inp.idempotency_key) or msg.get(
                "echo_id"
            ) == inp.idempotency_key:
                return msg.get("id")
        return None

    def _content(self, inp: PostMessageInput) -> str:
        """The message as posted: a private note with the console link under it."""
        wid = ticket_workflow_id(inp.account_id, inp.conversation_id)
        link = console_ticket_url(self.settings, wid) if inp.private else None
        return (
            f"{inp.content}\n\n[Open the ticket in the ticketflow console]({link})"
            if link
            else inp.content
        )

    @activity.defn(name="chatwoot.send_message")
    async def send_message(self, inp: PostMessageInput) -> PostMessageResult:
        """A public reply or (private=True) a private note, exactly once."""
        if activity.info().attempt > 1:
            # A slow earlier POST may still land: see activities/stragglers.py.
            await let_earlier_attempt_land()
            existing = await self._already_posted(inp)
            if existing is not None:
                log.info(
                    "chatwoot message already posted", key=inp.idempotency_key, message_id=existing
                )
                return PostMessageResult(message_id=existing, deduplicated=True)
        body = await self._call(
            "POST",
            self._url(inp.account_id, inp.conversation_id, "/messages"),
            {
                "content": self._content(inp),
                "message_type": "outgoing",
                "private": inp.private,
                "content_attributes": {ECHO_MARKER: {"key": inp.idempotency_key}},
                "echo_id": inp.idempotency_key,
            },
        )
        return PostMessageResult(message_id=body.get("id"))

    @activity.defn(name="chatwoot.check_reply")
    async def check_reply(self, inp: ReplyCheckInput) -> ReplyCheckResult:
        """The earliest public agent reply since `inp.since` among the
        conversation's latest messages: the ticket asks before an
        acknowledgment or response clock pages, so a reply whose webhook was
        lost does not page anyone. ticketflow's own messages do not count."""
        body = await self._call("GET", self._url(inp.account_id, inp.conversation_id, "/messages"))
        found: ReplyCheckResult | None = None
        for msg in body.get("payload") or []:
            if not isinstance(msg, dict) or msg.get("private"):
                continue
            attrs = msg.get("content_attributes")
            raw_sender = msg.get("sender")
            sender: dict[str, Any] = raw_sender if isinstance(raw_sender, dict) else {}
            at = instant(msg.get("created_at"))
            if (
                msg.get("message_type") not in (1, "outgoing")
                or (isinstance(attrs, dict) and ECHO_MARKER in attrs)
                or sender.get("type") != "user"
                or at is None
                or at < inp.since
                or (found is not None and found.at is not None and found.at <= at)
            ):
                continue
            who = str(sender.get("email") or sender.get("name") or sender.get("id") or "agent")
            found = ReplyCheckResult(message_id=msg.get("id"), by=who.split("@")[0].lower(), at=at)
        return found or ReplyCheckResult()

    @activity.defn(name="chatwoot.update_labels")
    async def update_labels(self, inp: UpdateLabelsInput) -> LabelsResult:
        url = self._url(inp.account_id, inp.conversation_id, "/labels")
        current = (await self._call("GET", url)).get("payload") or []
        wanted = [x for x in current if x not in inp.remove]
        wanted += [x for x in inp.add if x not in wanted]
        if wanted == current:
            return LabelsResult(labels=current)
        body = await self._call("POST", url, {"labels": wanted})
        return LabelsResult(labels=body.get("payload") or wanted)

    @activity.defn(name="chatwoot.assign")
    async def assign(self, inp: AssignInput) -> ChatwootCallResult:
        if inp.agent_id is None and inp.team_id is None:
            raise ApplicationError(
                "assign needs agent_id or team_id", type="ChatwootBadInput", non_retryable=True
            )
        body = (
            {"assignee_id": inp.agent_id} if inp.agent_id is not None else {"team_id": inp.team_id}
        )
        await self._call(
            "POST", self._url(inp.account_id, inp.conversation_id, "/assignments"), body
        )
        return ChatwootCallResult()

    @activity.defn(name="chatwoot.set_status")
    async def set_status(self, inp: SetStatusInput) -> ChatwootCallResult:
        body: dict = {"status": inp.status}
        if inp.status == "snoozed" and inp.snoozed_until:
            body["snoozed_until"] = inp.snoozed_until
        await self._call(
            "POST", self._url(inp.account_id, inp.conversation_id, "/toggle_status"), body
        )
        return ChatwootCallResult()

    @activity.defn(name="chatwoot.merge_custom_attributes")
    async def merge_custom_attributes(self, inp: MergeAttributesInput) -> ChatwootCallResult:
        conv = await self._call("GET", self._url(inp.account_id, inp.conversation_id))
        attrs = dict(conv.get("custom_attributes") or {})
        if all(attrs.get(k) == v for k, v in inp.set.items()):
            return ChatwootCallResult()
        attrs.update(inp.set)
        await self._call(
            "POST",
            self._url(inp.account_id, inp.conversation_id, "/custom_attributes"),
            {"custom_attributes": attrs},
        )
        return ChatwootCallResult()
