"""Inputs and outputs of the Chatwoot activities."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

# Key ticketflow puts in `content_attributes` of every message it posts: the
# activity finds its own earlier attempt by it, and the bridge ignores the
# message's webhook echo by it.
ECHO_MARKER = "ticketflow"


class _ConversationCall(BaseModel):
    account_id: int
    conversation_id: int
    idempotency_key: str  # the action key: marks our messages, dedups retries
    at: datetime  # the ticket's clock when decided (timelines, logs)
    target: str | None = None  # the pack's party id, for timelines


class PostMessageInput(_ConversationCall):
    content: str = Field(min_length=1)
    private: bool = False


class PostMessageResult(BaseModel):
    message_id: int | None
    deduplicated: bool = False  # an earlier attempt had already posted it


class UpdateLabelsInput(_ConversationCall):
    add: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)


class LabelsResult(BaseModel):
    labels: list[str]


class AssignInput(_ConversationCall):
    agent_id: int | None = None
    team_id: int | None = None


class SetStatusInput(_ConversationCall):
    status: Literal["open", "resolved", "pending", "snoozed"]
    snoozed_until: int | None = None


class MergeAttributesInput(_ConversationCall):
    set: dict[str, object]


class ChatwootCallResult(BaseModel):
    ok: bool = True
