"""Inputs and outputs of the Chatwoot activities."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

# Key ticketflow puts in `content_attributes` of every message it posts: the
# activity finds its own earlier attempt by it, and the bridge ignores the
# message's webhook echo by it.
ECHO_MARKER = "ticketflow"

# ---------------------------------------------------------------- webhook input bounds
# Chatwoot keeps account, conversation (id and display_id), inbox, contact and
# user ids in Postgres `integer`/`serial` columns (its db/schema.rb), and so do
# ticketflow's audit tables: an id outside 1..2^31-1 is not a Chatwoot id, and
# would fail every audit insert. Bodies are rejected at the bridge with a 422
# instead of starting a ticket that cannot be recorded.
INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1
# Conversation timestamps Chatwoot sends are Unix seconds; anything outside
# 2000-01-01 .. 2100-01-01 is not a conversation ticketflow can run clocks on.
UNIX_MIN, UNIX_MAX = 946_684_800, 4_102_444_800
MAX_ATTRIBUTE_DEPTH = 8  # custom attributes are flat in Chatwoot; allow some nesting, not a bomb


def _no_lone_surrogates(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text is not valid Unicode (lone surrogate)") from None
    return value


def _bounded_json(value: Any, depth: int = 0) -> Any:
    """Custom-attribute values: JSON of bounded depth, finite numbers, int8 ints, valid text."""
    if depth > MAX_ATTRIBUTE_DEPTH:
        raise ValueError(f"nested deeper than {MAX_ATTRIBUTE_DEPTH} levels")
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if abs(value) > INT8_MAX:
            raise ValueError("number out of range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("number out of range")
        return value
    if isinstance(value, str):
        return _no_lone_surrogates(value)
    if isinstance(value, list):
        return [_bounded_json(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {_no_lone_surrogates(str(k)): _bounded_json(v, depth + 1) for k, v in value.items()}
    raise ValueError(f"unexpected value of type {type(value).__name__}")


ChatwootId = Annotated[int, Field(ge=1, le=INT4_MAX)]
MessageId = Annotated[int, Field(ge=0, le=INT8_MAX)]
UnixSeconds = Annotated[float, Field(ge=UNIX_MIN, le=UNIX_MAX, allow_inf_nan=False)]
WebhookText = Annotated[str, AfterValidator(_no_lone_surrogates)]
ShortText = Annotated[str, Field(max_length=64), AfterValidator(_no_lone_surrogates)]
JsonAttributes = Annotated[dict[str, Any], AfterValidator(_bounded_json)]
JsonValue = Annotated[Any, AfterValidator(_bounded_json)]


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


class AdoptionInput(BaseModel):
    """A conversation whose ticket opens after it began: what does Chatwoot know of it?"""

    account_id: int
    conversation_id: int


class ReplyCheckInput(BaseModel):
    """Before an acknowledgment or response clock pages: did an agent answer
    in Chatwoot (a webhook the bridge never received) since `since`?"""

    account_id: int
    conversation_id: int
    since: datetime


class ReplyCheckResult(BaseModel):
    """The earliest public agent reply since then (all None: there is none)."""

    message_id: int | None = None
    by: str | None = None
    at: datetime | None = None


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


def instant(value: Any) -> datetime | None:
    """An instant from Unix seconds or an ISO 8601 string (UTC when it names no
    zone); None when it is neither, or not a plausible instant."""
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            at = datetime.fromtimestamp(value, tz=UTC)
        elif isinstance(value, str) and len(value) <= 64:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return (
        at if datetime(2000, 1, 1, tzinfo=UTC) <= at <= datetime(2200, 1, 1, tzinfo=UTC) else None
    )
