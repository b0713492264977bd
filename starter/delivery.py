"""The bridge's Temporal calls, each bounded in time.

Chatwoot waits 5 s for a webhook answer and never retries, so the sender
must learn of a Temporal outage *within* those 5 s (a 503 it logs) instead
of timing out while the event is lost silently. Two bounds:

- `rpc_timeout` on every call: the per-attempt gRPC deadline, so a paused
  (SIGSTOPped, overloaded) frontend cannot hold one attempt open;
- `REQUEST_BUDGET` around all of one webhook's Temporal work (connecting,
  the start or signal, the SDK's own retries on UNAVAILABLE, which would
  otherwise go on for up to 10 s against a stopped server).

Either expiring raises `TemporalUnavailable` (503). A start or signal that
did reach Temporal before the budget ran out is harmless to repeat: starts
reuse the running ticket and signals carry event ids.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from client.gateway import TemporalGateway, TemporalUnavailable, for_web_ui
from models.search_attributes import initial_search_attributes
from models.signals import Event, PageUpdate
from starter.chatwoot_events import Route
from workflows.ticket import TicketWorkflow

RPC_TIMEOUT = timedelta(seconds=2)  # one attempt of one call
REQUEST_BUDGET = 3.0  # seconds: all Temporal work of one webhook, well under Chatwoot's 5 s

T = TypeVar("T")


class NoRunningTicket(Exception):
    pass


class TicketClosed(Exception):
    """The conversation's ticket ran and closed; this event does not reopen it."""


def reuse_policy(r: Route) -> WorkflowIDReusePolicy:
    """One ticket per conversation, across its whole life.

    A running ticket is reused (`id_conflict_policy=USE_EXISTING`). A *closed*
    one (its workflow completed) is started again only by an event that
    reopens the conversation (status -> open, a new incoming message):
    `ALLOW_DUPLICATE`. Every other event (a redelivered or repeated
    `conversation_created`, an agent reply, a label change) gets
    `ALLOW_DUPLICATE_FAILED_ONLY`: Temporal refuses the start while the
    closed run is retained, so no second auto-acknowledgement and no second
    set of clocks; a run that failed or was terminated may still be
    replaced, so an operator's `terminate` is not a dead end.
    """
    return (
        WorkflowIDReusePolicy.ALLOW_DUPLICATE
        if r.reopens
        else WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
    )


def life_of(r: Route):
    """The ticket to start, with its `life` set when the event may start it
    again after it closed: the event's own id (unique in the conversation),
    so a reopened ticket's messages, audit rows and pages get keys of their
    own. Ignored when the ticket is running (the start reuses it)."""
    event_id = getattr(r.arg, "event_id", None)
    if not r.reopens or not event_id:
        return r.ticket
    return r.ticket.model_copy(update={"life": re.sub(r"[^A-Za-z0-9]", "", event_id)[-48:]})


class RejectedByTemporal(ValueError):
    """Temporal refused the request as invalid (a bad body, not an outage): 400."""


async def within_budget(work: Awaitable[T], what: str, budget: float = REQUEST_BUDGET) -> T:
    try:
        return await asyncio.wait_for(work, budget)
    except TimeoutError:
        raise TemporalUnavailable(f"Temporal did not answer within {budget:g}s ({what})") from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.INVALID_ARGUMENT:
            raise RejectedByTemporal(f"Temporal refused the request: {exc.message}") from None
        raise


async def deliver(gateway: TemporalGateway, r: Route, task_queue: str) -> str | None:
    """Start (or reuse) the ticket and deliver the signal; return the run id."""
    return await within_budget(_deliver(gateway, r, task_queue), f"delivering to {r.workflow_id}")


def accepted_now(arg: Any) -> Any:
    """An event as delivered: `occurred_at` set to the instant the bridge
    accepted it when the sender said nothing of when it happened."""
    if isinstance(arg, Event) and arg.occurred_at is None:
        return arg.model_copy(update={"occurred_at": datetime.now(UTC)})
    return arg


async def _deliver(gateway: TemporalGateway, r: Route, task_queue: str) -> str | None:
    r = replace(r, arg=accepted_now(r.arg))
    client = await gateway.client(timeout=REQUEST_BUDGET)
    if not r.start_if_missing:
        try:
            # A route that may not start the ticket always carries a signal
            # (starter/chatwoot_events.py): there is nothing else to deliver.
            await client.get_workflow_handle(r.workflow_id).signal(
                cast(str, r.signal), r.arg, rpc_timeout=RPC_TIMEOUT
            )
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise NoRunningTicket(f"no running ticket {r.workflow_id}") from None
            raise
        return None
    kwargs: dict[str, Any] = dict(
        id=r.workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=reuse_policy(r),
        search_attributes=initial_search_attributes(r.workflow_id, r.ticket),
        rpc_timeout=RPC_TIMEOUT,
    )
    ticket = life_of(r)
    if r.signal is not None:
        kwargs.update(start_signal=r.signal, start_signal_args=[r.arg])
        # An event after the conversation's creation: if this starts the ticket, the
        # conversation may have a history it reads first (workflows/adoption.py).
        ticket = ticket.model_copy(update={"read_history": True})
    ticket, ui = for_web_ui(ticket, gateway.settings.chatwoot_base_url)
    try:
        handle = await client.start_workflow(TicketWorkflow.run, ticket, **kwargs, **ui)
    except WorkflowAlreadyStartedError:
        raise TicketClosed(
            f"ticket {r.workflow_id} is closed; reopen the conversation to start it again"
        ) from None
    return handle.result_run_id


async def signal_page_update(
    gateway: TemporalGateway, workflow_id: str, update: PageUpdate
) -> None:
    """A PagerDuty ack/resolve for a ticket; NoRunningTicket if it is gone."""

    async def work() -> None:
        client = await gateway.client(timeout=REQUEST_BUDGET)
        try:
            await client.get_workflow_handle(workflow_id).signal(
                TicketWorkflow.page_update, accepted_now(update), rpc_timeout=RPC_TIMEOUT
            )
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise NoRunningTicket(f"no running ticket {workflow_id}") from None
            raise

    await within_budget(work(), f"signalling {workflow_id}")
