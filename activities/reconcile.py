"""Reconciliation: catch up on the webhooks the bridge missed.

Chatwoot delivers each webhook once, with no retry, so a bridge outage (a
503 while Temporal was down, a timeout) loses events. A Temporal Schedule
runs this activity every few minutes. It lists the conversations active
within the lookback through the Application API (`status=all`, most
recently active first, at most `max_conversations` a pass) and for each:

- an open conversation with no ticket: starts it (never a second one: a
  running ticket is kept, a closed one is not started again), adopting
  what Chatwoot knows of it (models/adoption.py: its replies, customer
  messages and status, read through starter/chatwoot_history.py), so an
  answered conversation does not start breached;
- a running ticket: sends the signals the bridge would have sent for what
  the ticket missed. They are built by the bridge's own mapping
  (`starter.chatwoot_events.route`: same signal, payload and event id) and
  delivered by its helper (`starter.delivery.deliver`, signal only). A
  closed or unknown ticket is skipped, never started by this path.

What a ticket missed is read from its `status` query, so a pass sends
nothing for what the ticket already has and its history does not grow with
every pass. The event ids (`message:<id>`, `status:<status>:<timestamp>`)
are the backstop: a late webhook, or a pass racing the bridge, is dropped by
the ticket (`seen_events`).

- Replies. Of the conversation's latest messages, the trailing run of agent
  replies or of customer messages (none of the other kind after it, so a
  reply applied now is not moved past one the ticket saw). A message is sent
  when it would still change the ticket: an agent reply while the ticket is
  unacknowledged, or a reply that would stop, restart or start one of the
  pack's clocks, as the status shows them. The first and the last such
  message are sent: the first stops clocks at the right instant, the last
  restarts them from the right one.
- Resolution. Chatwoot says `resolved`, the ticket is neither resolved nor
  closed: `resolved`. Unless ticketflow itself reopened the ticket after the
  conversation's last activity (its reopen not yet mirrored to Chatwoot).
- Pending / snoozed: `status_changed`, when `status_pending` would still
  change one of the pack's clocks.
- Open is not taken from the status field: in packs that do not mirror a
  resolution to Chatwoot, a ticket resolved in ticketflow leaves the
  conversation open. A customer who writes again is recovered as the
  `customer_replied` it is, which reopens the ticket where the pack says so.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import structlog
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.adoption import conversation_adoption
from activities.chatwoot import ChatwootActivities
from infra.settings import Settings
from models.adoption import Adoption
from models.chatwoot import instant
from models.reconcile import ReconcileInput, ReconcileResult
from models.search_attributes import initial_search_attributes

if TYPE_CHECKING:
    from models.status import TicketStatus
    from starter.chatwoot_events import Route

log = structlog.get_logger(__name__)

QUERY_TIMEOUT = timedelta(seconds=5)  # a ticket whose worker does not answer waits a pass
ARMED = ("running", "waiting", "breached")  # clock states an event can stop (engine/clocks.py)
AGENT_EVENTS = frozenset({"agent_replied", "agent_replied_substantive"})
CUSTOMER_EVENTS = frozenset({"customer_replied"})
PENDING_EVENTS = frozenset({"status_pending"})
REPLY_SIGNALS = ("agent_replied", "customer_replied")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # sorts an instant Chatwoot did not give first


class ClockEvents(Protocol):
    """The events a pack's clock reacts to (models.policy_clocks.ClockSpec)."""

    @property
    def starts_on(self) -> Sequence[str]: ...

    @property
    def stops_on(self) -> Sequence[str]: ...

    @property
    def restart_on(self) -> Sequence[str]: ...


def would_change(
    events: frozenset[str],
    at: datetime,
    status: TicketStatus,
    clocks: Mapping[str, ClockEvents],
) -> bool:
    """Whether `events`, happening at `at`, would still change one of the
    pack's clocks as the ticket's status shows them: stop one armed since
    before them, restart a running one last started before them, or start
    one not armed (never, or stopped before them). Once the ticket applied
    them, none of this holds, so a second pass sends nothing."""
    states = {c.name: c for c in status.clocks}
    for name, spec in clocks.items():
        c = states.get(name)
        if c is not None and c.status in ARMED:
            if events.intersection(spec.stops_on) and (c.armed_at or c.started_at) <= at:
                return True
            if c.status == "running" and events.intersection(spec.restart_on) and c.started_at < at:
                return True
        elif events.intersection(spec.starts_on) and (
            c is None or (c.stopped_at or c.started_at) < at
        ):
            return True
    return False


def _occurred(r: Route) -> datetime | None:
    return getattr(r.arg, "occurred_at", None)


def replies_to_recover(
    replies: Sequence[Route], status: TicketStatus, clocks: Mapping[str, ClockEvents]
) -> list[Route]:
    """Which of the conversation's reply routes (`agent_replied` /
    `customer_replied`, oldest first) the ticket still needs; see the
    module docstring."""
    if not replies or status.stage in ("starting", "policy_error", "closed"):
        return []
    kind = replies[-1].signal
    trailing: list[Route] = []
    for r in reversed(replies):
        if r.signal != kind:
            break
        trailing.append(r)
    trailing.reverse()
    opened = status.card.opened_at if status.card else None
    wanted = []
    for r in trailing:
        at = _occurred(r)
        if at is None or (opened is not None and at < opened):
            continue  # no instant to place it, or from before this ticket
        unacknowledged = kind == "agent_replied" and status.acknowledged_at is None
        events = AGENT_EVENTS if kind == "agent_replied" else CUSTOMER_EVENTS
        if unacknowledged or would_change(events, at, status, clocks):
            wanted.append(r)
    return wanted[:1] + wanted[1:][-1:]


def _stage_moves(status: TicketStatus) -> list[tuple[datetime, str]]:
    """The stage changes in the ticket's ladder (engine/lifecycle.py logs
    each as action `stage`, summary `Stage <stage>`)."""
    return [
        (e.at, e.summary.removeprefix("Stage "))
        for e in status.ladder
        if e.action == "stage" and e.summary.startswith("Stage ")
    ]


def resolution_wanted(status: TicketStatus, last_activity: datetime | None) -> bool:
    """Chatwoot says the conversation is resolved: does the ticket still need
    to hear it? Not when it is resolved or closed (or still starting). A
    ticket that was resolved and then reopened in ticketflow holds a newer
    view than a conversation with no activity since: its reopen may simply
    not have reached Chatwoot yet."""
    if status.stage in ("resolved", "closed", "starting"):
        return False
    moves = _stage_moves(status)
    if any(stage == "resolved" for _, stage in moves):
        latest = max(at for at, _ in moves)
        return last_activity is not None and last_activity > latest
    return True


def pending_wanted(
    status: TicketStatus, at: datetime | None, clocks: Mapping[str, ClockEvents]
) -> bool:
    """Chatwoot says pending or snoozed: would `status_pending` still change a clock?"""
    if at is None or status.stage in ("resolved", "closed", "starting", "policy_error"):
        return False
    return would_change(PENDING_EVENTS, at, status, clocks)


def _last_activity(conv: dict[str, Any]) -> Any:
    return conv.get("timestamp") or conv.get("last_activity_at") or conv.get("created_at")


def _active_since(conv: dict[str, Any], since: float) -> bool:
    at = instant(_last_activity(conv))
    return at is not None and at.timestamp() >= since


class ReconcileActivities:
    def __init__(self, http: httpx.AsyncClient, settings: Settings, client: Client) -> None:
        self.chatwoot = ChatwootActivities(http, settings)
        self.settings = settings
        self.client = client

    @activity.defn(name="reconcile.sync_open_conversations")
    async def sync_open_conversations(self, inp: ReconcileInput) -> ReconcileResult:
        result = ReconcileResult()
        since = time.time() - inp.lookback_seconds
        packs: dict[str, Mapping[str, ClockEvents]] = {}
        base = self.chatwoot._url(inp.account_id, 0).rsplit("/", 1)[0]  # .../conversations
        for page in range(1, inp.max_pages + 1):
            body = await self.chatwoot._call(
                "GET", f"{base}?status=all&sort_by=last_activity_at_desc&page={page}"
            )
            convs = (body.get("data") or {}).get("payload") or []
            if not convs:
                break
            active = [c for c in convs if isinstance(c, dict) and _active_since(c, since)]
            for conv in active:
                if result.seen >= inp.max_conversations:
                    log.warning(
                        "reconcile: conversation bound reached; the rest wait for a later pass",
                        account_id=inp.account_id,
                        max_conversations=inp.max_conversations,
                    )
                    return result
                result.seen += 1
                activity.heartbeat(page, result.seen)
                await self._one(conv, inp.account_id, result, packs)
            if not active:
                break  # listed most recently active first: the rest are older still
        return result

    async def _one(
        self,
        conv: dict[str, Any],
        account_id: int,
        result: ReconcileResult,
        packs: dict[str, Mapping[str, ClockEvents]],
    ) -> None:
        from client.gateway import for_web_ui
        from starter.chatwoot_events import WebhookError, ticket_from_conversation
        from workflows.ticket import TicketWorkflow

        try:
            ticket = ticket_from_conversation(conv, account_id, self.settings.policy_for_inbox)
        except WebhookError as exc:
            result.skipped += 1
            log.warning("reconcile: conversation skipped", error=str(exc))
            return
        wid = f"ticket-{account_id}-{ticket.conversation_id}"
        if conv.get("status") == "open" and not await self._exists(wid):
            try:
                adopted = await self._adoption(conv, account_id, ticket.conversation_id)
            except ApplicationError as exc:  # started next pass, with what Chatwoot knows
                result.skipped += 1
                log.warning("reconcile: history not read", workflow_id=wid, error=str(exc))
                return
            ticket = ticket.model_copy(update={"adopted": adopted})
            try:
                # A closed ticket is not started again (its reopen webhook does that).
                ticket, ui = for_web_ui(ticket, self.settings.chatwoot_base_url)
                await self.client.start_workflow(
                    TicketWorkflow.run,
                    ticket,
                    id=wid,
                    task_queue=self.settings.temporal_task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                    search_attributes=initial_search_attributes(wid, ticket),
                    **ui,
                )
                result.started += 1
                log.info("reconcile: started a missed ticket", workflow_id=wid)
                return  # a new ticket: what it may have missed is looked at next pass
            except WorkflowAlreadyStartedError:
                pass
        await self._recover(conv, account_id, ticket.conversation_id, wid, result, packs)

    async def _exists(self, wid: str) -> bool:
        """Whether the conversation has a ticket, running or closed."""
        try:
            await self.client.get_workflow_handle(wid).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    async def _adoption(self, conv: dict[str, Any], account_id: int, number: int) -> Adoption:
        """What Chatwoot knows of a conversation a ticket starts for (models/adoption.py)."""
        return await conversation_adoption(self.chatwoot, conv, account_id, number, self.settings)

    async def _recover(
        self,
        conv: dict[str, Any],
        account_id: int,
        number: int,
        wid: str,
        result: ReconcileResult,
        packs: dict[str, Mapping[str, ClockEvents]],
    ) -> None:
        """Send a running ticket what its status shows it missed."""
        from client.gateway import TemporalGateway
        from starter.chatwoot_events import Route, WebhookError, route
        from starter.delivery import NoRunningTicket, RejectedByTemporal, deliver
        from workflows.ticket import TicketWorkflow

        handle = self.client.get_workflow_handle(wid)
        try:
            desc = await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return  # no ticket: a resolved conversation never starts one here
            raise
        if desc.status != WorkflowExecutionStatus.RUNNING:
            return  # closed: only a reopen webhook starts it again

        status_now = conv.get("status")
        replies: list[Route] = []
        if status_now != "resolved":  # a resolution stops the clocks a lost reply would
            try:
                body = await self.chatwoot._call(
                    "GET", self.chatwoot._url(account_id, number, "/messages")
                )
            except ApplicationError as exc:  # one conversation's failure does not stop the pass
                log.warning("reconcile: messages not read", workflow_id=wid, error=str(exc))
                body = {}
            for msg in body.get("payload") or []:
                if not isinstance(msg, dict):
                    continue
                try:
                    r = route(
                        {**msg, "event": "message_created", "conversation": conv},
                        account_id=account_id,
                        policy_for_inbox=self.settings.policy_for_inbox,
                    )
                except WebhookError as exc:
                    log.info("reconcile: message not usable", workflow_id=wid, error=str(exc))
                    continue
                if isinstance(r, Route) and r.signal in REPLY_SIGNALS:
                    replies.append(r)
            replies.sort(key=lambda r: _occurred(r) or _EPOCH)  # stable: Chatwoot's order on ties
        status_route: Route | None = None
        if status_now in ("resolved", "pending", "snoozed"):
            stamp = conv.get("timestamp") or conv.get("last_activity_at")
            try:
                r = route(
                    {**conv, "event": "conversation_status_changed", "timestamp": stamp},
                    account_id=account_id,
                    policy_for_inbox=self.settings.policy_for_inbox,
                )
            except WebhookError as exc:
                log.info("reconcile: status not usable", workflow_id=wid, error=str(exc))
            else:
                status_route = r if isinstance(r, Route) else None
        if not replies and status_route is None:
            return

        try:
            status: TicketStatus = await handle.query(
                TicketWorkflow.status, rpc_timeout=QUERY_TIMEOUT
            )
        except Exception as exc:  # a query failed or timed out: the next pass asks again
            log.warning(
                "reconcile: ticket did not answer its status query",
                workflow_id=wid,
                error=type(exc).__name__,
            )
            return
        clocks = self._clocks(status.policy, packs)
        sends = [(r, "reply") for r in replies_to_recover(replies, status, clocks)]
        if status_route is not None:
            activity_at = instant(_last_activity(conv))
            if (status_route.signal == "resolved" and resolution_wanted(status, activity_at)) or (
                status_route.signal == "status_changed"
                and pending_wanted(status, activity_at, clocks)
            ):
                sends.append((status_route, "status"))

        gateway = TemporalGateway(self.settings, self.client)
        for r, what in sends:
            # Signal only, never a start; `system`: the ticket records who sent it.
            arg = r.arg.model_copy(update={"source": "system"}) if r.arg is not None else None
            try:
                await deliver(
                    gateway,
                    replace(r, arg=arg, start_if_missing=False),
                    self.settings.temporal_task_queue,
                )
            except NoRunningTicket:
                return  # it closed meanwhile
            except RejectedByTemporal as exc:
                log.warning("reconcile: signal refused", workflow_id=wid, error=str(exc))
                continue
            if what == "reply":
                result.replies_recovered += 1
            else:
                result.statuses_recovered += 1
            log.info(
                "reconcile: recovered a missed webhook",
                workflow_id=wid,
                signal=r.signal,
                event_id=getattr(arg, "event_id", None),
            )

    def _clocks(
        self, policy: str, packs: dict[str, Mapping[str, ClockEvents]]
    ) -> Mapping[str, ClockEvents]:
        """The clocks of the ticket's pack as the policies directory has it
        (read once a pass); none when it cannot be loaded, so only what the
        status alone shows (an unacknowledged ticket) is recovered."""
        from engine.policy_loader import PolicyError, load_policy

        if policy not in packs:
            try:
                packs[policy] = load_policy(policy, self.settings.policies_dir, shared=True).clocks
            except PolicyError as exc:
                log.warning("reconcile: pack not loaded", policy=policy, error=str(exc))
                packs[policy] = {}
        return packs[policy]
