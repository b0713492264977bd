"""Ticket operations shared by the operator CLI and the web console.

Both front doors name tickets the same way, search them with the same
visibility query, send the same Temporal updates and show a refusal with
the same words, so this module holds those pieces once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)

from infra.settings import Settings
from models import search_attributes as sa
from models.durations import human_duration
from models.handoff import HandoffResponse
from models.signals import Acknowledged, Escalate, Reassign, Reopened, Resolved, Source
from models.status import TicketStatus
from models.ticket_card import TicketCard
from models.timezones import local_time
from workflows.ticket import TicketWorkflow

_WID = re.compile(r"^ticket-(\d+)-(\d+)$")


def conversation_of(wid: str) -> tuple[int, int] | None:
    """(account id, conversation id) of a ticket workflow id, if it is one."""
    m = _WID.match(wid)
    return (int(m.group(1)), int(m.group(2))) if m else None


def ui_link(settings: Settings, wid: str) -> str:
    return (
        f"{settings.temporal_ui_url.rstrip('/')}/namespaces/{settings.temporal_namespace}"
        f"/workflows/{wid}"
    )


def chatwoot_link(settings: Settings, wid: str) -> str | None:
    """The conversation's page in Chatwoot, when CHATWOOT_BASE_URL is set."""
    ids = conversation_of(wid)
    if not ids or not settings.chatwoot_base_url:
        return None
    return (
        f"{str(settings.chatwoot_base_url).rstrip('/')}/app/accounts/{ids[0]}"
        f"/conversations/{ids[1]}"
    )


@dataclass(frozen=True)
class TicketFilter:
    """What `ticketflow list` and the console board filter on."""

    breached: bool = False
    owner: str | None = None
    policy: str | None = None
    vip: bool = False
    all_: bool = False

    def visibility_query(self) -> str:
        parts = ["WorkflowType = 'TicketWorkflow'"]
        if not self.all_:
            parts.append("ExecutionStatus = 'Running'")
        if self.breached:
            parts.append(f"{sa.SLA_STATE.name} = 'breached'")
        if self.owner:
            parts.append(f"{sa.TICKET_OWNER.name} = {json.dumps(self.owner)}")
        if self.policy:
            parts.append(f"{sa.TICKET_POLICY.name} = {json.dumps(self.policy)}")
        if self.vip:
            parts.append(f"{sa.TICKET_VIP.name} = true")
        return " AND ".join(parts)


@dataclass
class TicketRow:
    """One ticket as visibility knows it (no query to the worker): its search
    attributes, and its memo's card when it was started with one."""

    workflow_id: str
    policy: str | None
    owner: str | None
    stage: str | None
    sla_state: str | None
    vip: bool | None
    level: int | None
    status: str = "Running"
    card: TicketCard | None = None
    started_at: datetime | None = None


async def _row(wf: WorkflowExecution) -> TicketRow:
    attrs = wf.typed_search_attributes
    try:
        card = TicketCard.from_memo(await wf.memo())
    except Exception:  # a memo another client wrote, in an encoding this one cannot read
        card = None
    return TicketRow(
        wf.id,
        attrs.get(sa.TICKET_POLICY),
        attrs.get(sa.TICKET_OWNER),
        attrs.get(sa.TICKET_STAGE),
        attrs.get(sa.SLA_STATE),
        attrs.get(sa.TICKET_VIP),
        attrs.get(sa.ESCALATION_LEVEL),
        wf.status.name.title() if wf.status else "Running",
        card,
        wf.start_time,
    )


async def list_tickets(client: Client, flt: TicketFilter, limit: int) -> list[TicketRow]:
    """One visibility list call."""
    return [
        await _row(wf) async for wf in client.list_workflows(flt.visibility_query(), limit=limit)
    ]


async def list_page(
    client: Client,
    query: str,
    page_size: int,
    token: bytes | None = None,
    rpc_timeout: timedelta | None = None,
) -> tuple[list[TicketRow], bytes | None]:
    """Exactly one visibility list call: up to `page_size` tickets from `token`
    on, and the token of the page after them (None after the last)."""
    it = client.list_workflows(
        query, page_size=page_size, next_page_token=token or None, rpc_timeout=rpc_timeout
    )
    await it.fetch_next_page()
    return [await _row(wf) for wf in it.current_page or []], it.next_page_token or None


# The operator actions: update name -> (update, its typed input). The CLI and
# the console send exactly these.
ACTIONS: dict[str, tuple[Any, type]] = {
    "acknowledge": (TicketWorkflow.acknowledge, Acknowledged),
    "request_escalation": (TicketWorkflow.request_escalation, Escalate),
    "decide": (TicketWorkflow.decide, HandoffResponse),
    "reassign_to": (TicketWorkflow.reassign_to, Reassign),
    "resolve": (TicketWorkflow.resolve, Resolved),
    "reopen": (TicketWorkflow.reopen, Reopened),
}


# A ticket answers an operator's action as soon as its worker takes it (it never
# waits for Chatwoot, PagerDuty or Postgres): no answer in this long means no
# worker is running it, and the operator is told so instead of waiting.
UPDATE_TIMEOUT = timedelta(seconds=10)


class NoAnswer(RuntimeError):
    """The ticket did not answer an operator's action in time."""


async def send_update(
    client: Client, wid: str, update: Any, arg: Any, source: Source | None = None
) -> TicketStatus:
    """Send an operator action; `source` (`cli`, `console`) is recorded with it
    by the ticket, and the instant it was accepted as when it happened."""
    stamp: dict[str, Any] = {} if source is None else {"source": source}
    if "occurred_at" in type(arg).model_fields and arg.occurred_at is None:
        stamp["occurred_at"] = datetime.now(UTC)
    arg = arg.model_copy(update=stamp)
    try:
        status: TicketStatus = await client.get_workflow_handle(wid).execute_update(
            update, arg, rpc_timeout=UPDATE_TIMEOUT
        )
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise NoAnswer(
            f"ticket {wid} did not answer within {UPDATE_TIMEOUT.seconds} s: is a worker "
            "running? The action is applied when one takes the ticket; check with "
            "`ticketflow show` before sending it again."
        ) from None
    return status


def refusal(exc: WorkflowUpdateFailedError) -> str:
    """The validator's words for a refused update."""
    return str(getattr(exc.cause, "message", None) or exc.cause or exc)


def next_deadline(s: TicketStatus) -> tuple[datetime, str] | None:
    """The soonest deadline still ahead of someone: a running clock or an open handoff."""
    found = [(c.deadline, c.title) for c in s.clocks if c.status == "running"]
    found += [(h.deadline, h.title) for h in s.handoffs if h.status == "open"]
    return min(found, key=lambda x: x[0]) if found else None


def time_left(deadline: datetime, now: datetime | None) -> str:
    now = now or datetime.now(UTC)
    delta = (deadline - now).total_seconds()
    whole = timedelta(seconds=abs(delta) // 60 * 60)  # minutes are precise enough for people
    return ("in " + human_duration(whole)) if delta >= 0 else (human_duration(whole) + " ago")


def age(since: datetime, now: datetime | None = None) -> str:
    """How long something has been open, as a board column says it: `3d 4h`, `5h 12m`, `14m`
    (console.js ticks the same words in the browser)."""
    minutes = max(0, int(((now or datetime.now(UTC)) - since).total_seconds()) // 60)
    d, h, m = minutes // 1440, minutes % 1440 // 60, minutes % 60
    return f"{d}d {h}h" if d else f"{h}h {m}m" if h else f"{m}m"


def when(t: datetime, s: TicketStatus, fmt: str = "%m-%d %H:%M") -> str:
    """An instant in the pack's zone with the offset in force then."""
    return local_time(t, s.timezone or "UTC", fmt)
