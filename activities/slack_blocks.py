"""A ticket's Slack message in Block Kit, built with slack-sdk's block models
(which refuse what Slack refuses: a text over 3000 characters, a field over
2000, more than 100 options).

The first block's `block_id` is `tf|<action key>`: it marks the message as
this action's, so a retried post finds an earlier copy in the channel's
history (activities/slack.py), and stays the same when the message is
edited. The buttons' block carries the ticket's workflow id
(`tfa|<workflow id>|<version>`), which is how a click finds its ticket
(starter/slack_actions.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from models.channels import ChannelMessage

ACK, TAKE, ESCALATE = "tf_acknowledge", "tf_take", "tf_escalate"
MARKER = "tf|"
ACTIONS_MARKER = "tfa|"


def escape(text: str) -> str:
    """Slack's mrkdwn control characters, escaped (a customer's `<email>` stays text)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def marker(key: str) -> str:
    return f"{MARKER}{key}"[:255]


def links(message: ChannelMessage, console: str, chatwoot: str | None, web_ui: str) -> str:
    parts = [f"<{console}|Console>"]
    if chatwoot:
        parts.append(f"<{chatwoot}|Chatwoot>")
    parts.append(f"<{web_ui}|Temporal Web UI>")
    return " · ".join(parts)


def fields(message: ChannelMessage) -> list[tuple[str, str]]:
    """The labelled facts of the message, in the order people read them."""
    out = [("Customer", message.customer)]
    out += [
        (label, value)
        for label, value in (
            ("Clock", message.clock),
            ("Deadline", message.deadline),
            ("Late", message.late),
            ("Level", message.level),
        )
        if value
    ]
    return out


def blocks(message: ChannelMessage, link_line: str) -> list[dict[str, Any]]:
    """The message's blocks, as chat.postMessage and chat.update take them."""
    version = hashlib.sha256((message.status or "").encode()).hexdigest()[:8]
    out: list[Block] = [
        SectionBlock(
            block_id=marker(message.key),
            text=MarkdownTextObject(
                text=f"*{escape(message.title)}*\n{escape(message.text)}"[:3000]
            ),
        ),
        SectionBlock(
            block_id=f"tff|{version}",
            fields=[
                MarkdownTextObject(text=f"*{label}*\n{escape(value)}"[:2000])
                for label, value in fields(message)
            ],
        ),
    ]
    if message.status:
        out.append(
            ContextBlock(
                block_id=f"tfs|{version}",
                elements=[MarkdownTextObject(text=f":white_check_mark: {escape(message.status)}")],
            )
        )
    out.append(ContextBlock(block_id="tfl", elements=[MarkdownTextObject(text=link_line)]))
    if message.buttons:
        elements: list[Any] = [
            ButtonElement(
                text="Acknowledge", action_id=ACK, value=message.workflow_id, style="primary"
            ),
            ButtonElement(text="Take it", action_id=TAKE, value=message.workflow_id),
        ]
        if message.reasons:
            elements.append(
                StaticSelectElement(
                    action_id=ESCALATE,
                    placeholder=PlainTextObject(text="Escalate…"),
                    options=[
                        Option(value=r[:150], text=r.replace("_", " ")[:75])
                        for r in message.reasons[:100]
                    ],
                )
            )
        out.append(
            ActionsBlock(
                block_id=f"{ACTIONS_MARKER}{message.workflow_id}|{version}"[:255],
                elements=elements,
            )
        )
    return [b.to_dict() for b in out]


def fallback_text(message: ChannelMessage) -> str:
    """The notification text (and what screen readers say)."""
    status = f" ({message.status})" if message.status else ""
    return f"{message.title}{status}: {message.text}"[:3000]


def workflow_of(block_id: str | None) -> str | None:
    """The workflow id an actions block names (None: not ticketflow's)."""
    if not block_id or not block_id.startswith(ACTIONS_MARKER):
        return None
    return block_id[len(ACTIONS_MARKER) :].rsplit("|", 1)[0] or None


def is_marked(message: dict[str, Any], key: str) -> bool:
    """A message from conversations.history is the one this action posted."""
    want = marker(key)
    return any(
        isinstance(b, dict) and b.get("block_id") == want for b in message.get("blocks") or []
    )
