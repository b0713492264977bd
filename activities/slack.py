"""Slack Web API activities: post a ticket's message, keep it current.

Web API calls and their errors: activities/slack_api.py.

Exactly one message per action key. The posted message's channel and ts
are kept in Postgres (`channel_messages`, by action key): a post whose key
is there is done, and an update finds its message there in one indexed
read. That alone cannot cover a post whose request reached Slack but whose
answer was lost (a timeout): the retry does not know the message exists.
So a retried post first looks through the channel's history since the post
was decided (`conversations.history`) for a message whose first block
carries the key (`block_id` `tf|<key>`, activities/slack_blocks.py), and
posts only if there is none. A block id rather than message `metadata`:
it is part of the request shapes in Slack's published Web API spec, and
needs no extra scope. A direct message goes to the person's IM channel
(`conversations.open`), so its history can be searched the same way.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.slack_api import SlackApi
from activities.slack_blocks import blocks, fallback_text, is_marked, links
from activities.stragglers import let_earlier_attempt_land
from infra.settings import Settings
from models.channels import (
    ChannelMessage,
    SlackMessageRef,
    SlackPostInput,
    SlackUpdateInput,
)

log = structlog.get_logger(__name__)

HISTORY_PAGES = 10  # conversations.history pages (200 messages each) searched for a key


class SlackActivities:
    def __init__(self, http: httpx.AsyncClient, settings: Settings, pool: asyncpg.Pool) -> None:
        self.http = http
        self.settings = settings
        self.pool = pool
        self.api = SlackApi(http, settings)
        self.call = self.api.call

    def _link_line(self, m: ChannelMessage) -> str:
        s = self.settings
        return links(
            m,
            s.console_link(m.workflow_id),
            s.chatwoot_link(m.account_id, m.conversation_id),
            s.web_ui_link(m.workflow_id),
        )

    async def channel_of(self, to: str) -> str:
        """The channel to post in: a channel id as it is; a user's IM channel."""
        if to[0] not in "UW":
            return to
        opened = await self.call("conversations.open", {"users": to})
        return str(opened["channel"]["id"])

    # ----------------------------------------------------- what is posted

    async def _kept(self, key: str) -> SlackMessageRef | None:
        row = await self.pool.fetchrow(
            "SELECT channel, ts FROM channel_messages WHERE action_key = $1 AND kind = 'slack'",
            key,
        )
        return SlackMessageRef(channel=row["channel"], ts=row["ts"]) if row else None

    async def _keep(self, key: str, ref: SlackMessageRef) -> None:
        await self.pool.execute(
            "INSERT INTO channel_messages (action_key, kind, channel, ts) "
            "VALUES ($1, 'slack', $2, $3) ON CONFLICT (action_key) DO NOTHING",
            key,
            ref.channel,
            ref.ts,
        )

    async def find_in_history(self, channel: str, key: str, since: float) -> str | None:
        """The ts of the message marked with `key` posted since `since` (unix seconds)."""
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            query: dict[str, Any] = {"channel": channel, "oldest": f"{since:.6f}", "limit": 200}
            if cursor:
                query["cursor"] = cursor
            page = await self.call("conversations.history", **query)
            for msg in page.get("messages") or []:
                if isinstance(msg, dict) and is_marked(msg, key):
                    return str(msg.get("ts"))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or not cursor:
                return None
        return None

    # ---------------------------------------------------------- activities

    @activity.defn(name="slack.post")
    async def post(self, inp: SlackPostInput) -> SlackMessageRef:
        """The ticket's message in a channel or a DM, exactly once per action key."""
        key = inp.message.key
        kept = await self._kept(key)
        if kept is not None:
            return kept.model_copy(update={"deduplicated": True})
        channel = await self.channel_of(inp.to)
        if activity.info().attempt > 1:
            await let_earlier_attempt_land()  # a slow earlier post may still land
            since = inp.at.timestamp() - 60
            ts = await self.find_in_history(channel, key, since)
            if ts is not None:
                ref = SlackMessageRef(channel=channel, ts=ts, deduplicated=True)
                await self._keep(key, ref)
                log.info("slack message already posted", key=key, channel=channel)
                return ref
        answer = await self.call(
            "chat.postMessage",
            {
                "channel": channel,
                "text": fallback_text(inp.message),
                "blocks": blocks(inp.message, self._link_line(inp.message)),
                "unfurl_links": False,
            },
        )
        ref = SlackMessageRef(channel=str(answer["channel"]), ts=str(answer["ts"]))
        await self._keep(key, ref)
        return ref

    @activity.defn(name="slack.update")
    async def update(self, inp: SlackUpdateInput) -> SlackMessageRef:
        """The post of `inp.message.key` edited in place (chat.update)."""
        key = inp.message.key
        ref = await self._kept(key)
        if ref is None:  # posted, but its answer was lost: look for it
            channel = await self.channel_of(inp.to)
            ts = await self.find_in_history(channel, key, inp.posted_at.timestamp() - 60)
            if ts is None:
                raise ApplicationError(
                    f"no Slack message posted for {key} (its post failed?)",
                    type="SlackMessageNotFound",
                    non_retryable=True,
                )
            ref = SlackMessageRef(channel=channel, ts=ts)
            await self._keep(key, ref)
        await self.call(
            "chat.update",
            {
                "channel": ref.channel,
                "ts": ref.ts,
                "text": fallback_text(inp.message),
                "blocks": blocks(inp.message, self._link_line(inp.message)),
            },
        )
        return ref
