"""Input and output of the Slack and e-mail activities.

The engine decides what a message says (`ChannelMessage`: the pack's
template rendered, and the ticket's customer, clock, deadline, lateness and
level); the activities decide how it looks (Block Kit, a plain-text and an
HTML part) and add the links, which come from settings. Tokens and SMTP
passwords are never carried: the activities read them from settings.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

# The Slack user or channel id a pack gives a party (models/policy_coverage.Party.slack).
SLACK_ID = r"^[UWCG][A-Z0-9]{2,}$"


class ChannelMessage(BaseModel):
    """What a Slack post or an e-mail says, in the words of the pack."""

    key: str = Field(min_length=1, max_length=200)  # the action key of the post or e-mail
    title: str = Field(min_length=1, max_length=150)
    text: str = Field(max_length=2900)  # the pack's template, rendered
    workflow_id: str
    account_id: int | None = None
    conversation_id: int | None = None
    customer: str = ""
    clock: str | None = None
    deadline: str | None = None
    late: str | None = None  # "12m late", "due in 5m"
    level: str | None = None
    status: str | None = None  # "Acknowledged by Lola at 03:14" (an update)
    reasons: list[str] = Field(default_factory=list)  # the pack's escalation reasons
    buttons: bool = True  # Acknowledge / Take it / Escalate; none once resolved


class SlackPostInput(BaseModel):
    message: ChannelMessage
    to: str = Field(pattern=SLACK_ID)  # a channel id, or a user id (a DM)
    target: str | None = None  # the party of the pack
    at: datetime


class SlackUpdateInput(BaseModel):
    message: ChannelMessage  # `key`: the post's action key
    to: str = Field(pattern=SLACK_ID)
    posted_at: datetime  # when the post was decided (where to look for it in history)
    update_key: str  # this update's own action key
    at: datetime


class SlackMessageRef(BaseModel):
    channel: str
    ts: str
    deduplicated: bool = False


class EmailInput(BaseModel):
    message: ChannelMessage
    to: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    subject: str = Field(min_length=1, max_length=200)
    target: str | None = None
    at: datetime


class EmailResult(BaseModel):
    message_id: str
    deduplicated: bool = False
