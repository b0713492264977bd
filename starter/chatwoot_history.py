"""A conversation's history in Chatwoot, as the events a ticket would have seen.

Read through the Application API (the Chatwoot activities' client and
settings): `GET .../conversations/{id}/messages` gives the latest 20
messages, oldest first, and `before=<message id>` the 20 before those. Each
message is mapped by the bridge's own mapping (`starter.chatwoot_events.route`:
same signal, event id `message:<id>`, instant Chatwoot's `created_at`), so a
webhook or a reconciliation pass that brings the same message again is a
no-op for the ticket. Only the kind, the id, the instant and the agent of a
message are kept, never its body.

Used by reconciliation to adopt a conversation it starts a ticket for
(models/adoption.py) and by `ticketflow import chatwoot` to record past
conversations for `whatif` (starter/import_chatwoot.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from activities.chatwoot import ChatwootActivities
from models.adoption import MAX_ADOPTED_EVENTS, AdoptedEvent, Adoption
from models.chatwoot import instant
from models.signals import AgentReplied, CustomerReplied, Resolved, StatusChanged
from starter.chatwoot_events import Route, WebhookError, route

REPLY_SIGNALS = ("agent_replied", "customer_replied")
PAGE_SIZE = 20  # messages Chatwoot returns a call
DEFAULT_MAX_PAGES = 10  # 200 messages: older ones of a longer thread are not read


async def read_messages(
    chatwoot: ChatwootActivities,
    account_id: int,
    number: int,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> list[dict[str, Any]]:
    """The conversation's messages, oldest first (at most `max_pages` pages of
    the latest). Raises ApplicationError when Chatwoot does not answer."""
    url = chatwoot._url(account_id, number, "/messages")
    out: list[dict[str, Any]] = []
    before: int | None = None
    for _ in range(max_pages):
        body = await chatwoot._call("GET", url if before is None else f"{url}?before={before}")
        page = [m for m in body.get("payload") or [] if isinstance(m, dict)]
        if before is not None:  # only older ones, whatever the server sent
            page = [m for m in page if isinstance(m.get("id"), int) and m["id"] < before]
        out[0:0] = page
        ids = [m["id"] for m in page if isinstance(m.get("id"), int)]
        if len(page) < PAGE_SIZE or not ids:
            break
        before = min(ids)
    return out


def reply_routes(
    conv: dict[str, Any],
    messages: list[dict[str, Any]],
    account_id: int,
    policy_for_inbox: Callable[[int | None], str],
) -> tuple[list[Route], list[str]]:
    """The conversation's agent replies and customer messages as the bridge
    routes them, in the order they happened; and why the others were not used."""
    out: list[Route] = []
    unused: list[str] = []
    for msg in messages:
        try:
            r = route(
                {**msg, "event": "message_created", "conversation": conv},
                account_id=account_id,
                policy_for_inbox=policy_for_inbox,
            )
        except WebhookError as exc:
            unused.append(str(exc))
            continue
        if isinstance(r, Route) and r.signal in REPLY_SIGNALS and occurred(r) is not None:
            out.append(r)
        else:
            unused.append(getattr(r, "reason", "no instant"))
    out.sort(key=lambda r: occurred(r) or datetime.min)  # stable: Chatwoot's order on ties
    return out, unused


def occurred(r: Route) -> datetime | None:
    return getattr(r.arg, "occurred_at", None)


def last_activity(conv: dict[str, Any]) -> datetime | None:
    return instant(conv.get("timestamp") or conv.get("last_activity_at") or conv.get("created_at"))


def status_event(
    conv: dict[str, Any], account_id: int, policy_for_inbox: Callable[[int | None], str]
) -> StatusChanged | Resolved | None:
    """The conversation's status as the event that set it, at its last activity
    (Chatwoot does not say when the status changed): pending, snoozed or resolved."""
    if conv.get("status") not in ("pending", "snoozed", "resolved"):
        return None
    stamp = conv.get("timestamp") or conv.get("last_activity_at")
    try:
        r = route(
            {**conv, "event": "conversation_status_changed", "timestamp": stamp},
            account_id=account_id,
            policy_for_inbox=policy_for_inbox,
        )
    except WebhookError:
        return None
    arg = r.arg if isinstance(r, Route) else None
    if not isinstance(arg, StatusChanged | Resolved):
        return None
    return arg.model_copy(update={"occurred_at": last_activity(conv), "source": "system"})


def compress(routes: list[Route], bound: int) -> list[AdoptedEvent]:
    """The first and last of each run of one kind (agent replies, customer
    messages): the first stops or starts the clocks at the right instant, the
    last restarts them from the right one. At most `bound`: the first two and
    the latest others of a longer thread."""
    kept: list[Route] = []
    for i, r in enumerate(routes):
        first = i == 0 or routes[i - 1].signal != r.signal
        last = i == len(routes) - 1 or routes[i + 1].signal != r.signal
        if first or last:
            kept.append(r)
    if len(kept) > bound:
        kept = kept[:2] + kept[len(kept) - (bound - 2) :]
    out: list[AdoptedEvent] = []
    for r in kept:
        if isinstance(r.arg, AgentReplied | CustomerReplied):
            out.append(r.arg.model_copy(update={"source": "system"}))
    return out


def adoption(
    conv: dict[str, Any],
    messages: list[dict[str, Any]],
    account_id: int,
    policy_for_inbox: Callable[[int | None], str],
    at: datetime,
) -> Adoption:
    """What Chatwoot knows of the conversation, for a ticket starting at `at`."""
    replies, _ = reply_routes(conv, messages, account_id, policy_for_inbox)
    status = status_event(conv, account_id, policy_for_inbox)
    events = compress(replies, MAX_ADOPTED_EVENTS - 1) + ([status] if status else [])
    return Adoption(at=at, events=events)
