"""TicketWorkflow: one long-lived workflow per Chatwoot conversation.

The workflow is a thin driver around `engine.core.TicketEngine`: signals and
updates queue events, the main loop feeds them to the engine with the
ticket's clock, runs the actions it returns (activities, handoff child
workflows: workflows/ticket_actions.py) and sleeps until the next absolute
deadline the engine holds.

- Webhook events are signals; one the ticket cannot accept is recorded in
  `status().rejected_signals`, never a failed workflow task.
- Operator actions are updates with validators that refuse with a clear
  message (unknown person, reason outside the enum, resolve when closed).
- The policy is loaded once by an activity, so the pack version the ticket
  started with is pinned in its history; continue-as-new carries it on.
- Timers and activities carry human summaries for the Temporal Web UI, and
  search attributes let it filter (breached VIP tickets owned by Lola).
- Every input the engine consumes is recorded in Postgres (`ticket_inputs`,
  workflows/inputs.py), enough to replay the ticket's life without Temporal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from engine.board import ticket_board
    from engine.core import Rejected, TicketEngine, short_id
    from engine.shared_policy import shared
    from models import search_attributes as sa
    from models.actions import Action
    from models.handoff import HANDOFF_RESULT_SIGNAL, HandoffResponse, HandoffResult
    from models.signals import (
        Acknowledged,
        AgentReplied,
        Classify,
        CustomerReplied,
        Escalate,
        PageUpdate,
        Reassign,
        Reopened,
        Resolved,
        StatusChanged,
        VipFlagChanged,
    )
    from models.status import TicketStatus
    from models.ticket_card import TicketCard
    from models.ticket_input import TicketCarry, TicketInput
    from workflows.actions import ACTIVITY_FAILED, failure_message
    from workflows.batched import BATCHED_ACTIONS, LOCAL_LANES
    from workflows.inputs import TICKET_INPUTS, InputLog
    from workflows.metrics import WorkflowMetrics
    from workflows.ticket_actions import TicketActionRunner, load_policy
    from workflows.versions import patches_in_effect


# Patch ids: each guards one change to a live ticket's code path (see README).
EVENT_STAGE_MARKERS = "event-stage-markers"
# Clocks gated by conditions, condition_met rules, on_start, catch-up.
SOP_EVENT_ORDERS = "sop-event-orders"
PACKED_POLICY = "packed-policy"  # the pack loads compressed (models/policy_io.PackedPolicy)
# Search attributes upserted in the task that decides, before the decision's actions run.
DECISION_UPSERTS = "decision-upserts"


@dataclass
class _Queued:
    name: str
    arg: Any
    done: bool = False
    error: str | None = None


@workflow.defn
class TicketWorkflow:
    @workflow.init
    def __init__(self, ticket: TicketInput) -> None:
        self._input = ticket
        self._engine: TicketEngine | None = None
        self._inbox: list[_Queued] = []
        self._error: str | None = None
        self._last_attributes: dict[str, Any] = {}
        self._metrics = WorkflowMetrics(ticket.policy)
        self._batched = False  # a decision's actions run concurrently, batched per system
        self._local = False  # policy load, PagerDuty and audit calls as local activities
        self._inputs: InputLog | None = None  # what the engine consumed (workflows/inputs.py)

    # ------------------------------------------------------------------ clock

    def _now(self) -> datetime:
        return workflow.now() + timedelta(seconds=self._input.clock_offset_seconds)

    # ------------------------------------------------------------------- main

    @workflow.run
    async def run(self, ticket: TicketInput) -> TicketStatus:
        wid = workflow.info().workflow_id
        patches = patches_in_effect(
            EVENT_STAGE_MARKERS,
            SOP_EVENT_ORDERS,
            BATCHED_ACTIONS,
            LOCAL_LANES,
            PACKED_POLICY,
            TICKET_INPUTS,
            DECISION_UPSERTS,
        )
        stage_markers = EVENT_STAGE_MARKERS in patches
        sop_orders = SOP_EVENT_ORDERS in patches
        self._batched = BATCHED_ACTIONS in patches
        self._local = self._batched and LOCAL_LANES in patches
        opening: datetime | None = None  # a new ticket's first `now` (a continued run has none)
        if ticket.carry is not None:
            carried, inputs_seq = ticket.carry.state, ticket.carry.inputs_seq
            self._engine = TicketEngine(shared(ticket.carry.policy), carried)
            ticket.carry = None  # its policy copy would stay alive with the input otherwise
            self._engine.event_stage_markers = stage_markers
            self._engine.sop_orders = sop_orders
            self._metrics.escalated = bool(carried.level or carried.facts.get("escalated"))
            actions: list[Action] = []
        else:
            try:
                # One shared object per pack content: this frame lives as long as the ticket.
                policy = await load_policy(
                    ticket.policy, packed=PACKED_POLICY in patches, local=self._local
                )
            except ACTIVITY_FAILED as err:
                return await self._park_on_policy_error(err)
            self._engine = TicketEngine.new(policy, ticket.ticket(), wid, life=ticket.life)
            self._engine.event_stage_markers = stage_markers
            self._engine.sop_orders = sop_orders
            opening, inputs_seq = self._now(), 0
            actions = self._engine.open(opening)
        engine = self._engine
        runner = TicketActionRunner(
            engine,
            self._now,
            self._metrics,
            batched=self._batched,
            local=self._local,
            clock_offset_seconds=self._input.clock_offset_seconds,
            inputs_seq=inputs_seq if TICKET_INPUTS in patches else None,
        )
        self._inputs = inputs = runner.inputs
        if opening is not None:
            inputs.add(
                "open",
                opening,
                {
                    "ticket": engine.state.ticket.model_dump(mode="json"),
                    "life": ticket.life,
                    "event_stage_markers": stage_markers,
                    "sop_orders": sop_orders,
                },
                None,
            )
        decision_upserts = DECISION_UPSERTS in patches
        while True:
            if decision_upserts:
                # What the decision changed reaches visibility in the task that decided it,
                # not after its actions return: a hanging Chatwoot cannot keep a breached
                # ticket off the board.
                self._upsert_search_attributes()
            await runner.execute(actions)
            actions = []  # the decision's actions are done: not kept alive while the ticket sleeps
            inputs.flush()  # what this decision consumed, written beside the loop
            # What the actions' answers changed (a failure, a count), if any.
            self._upsert_search_attributes()
            self._show_board()
            if engine.closed:
                break
            if self._should_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await inputs.settle()
                if not self._inbox:
                    engine.state.runs += 1
                    workflow.continue_as_new(
                        ticket.model_copy(
                            update={
                                "carry": TicketCarry(
                                    state=engine.state,
                                    policy=engine.policy,
                                    inputs_seq=inputs.seq if inputs.on else None,
                                )
                            }
                        )
                    )
            wake = engine.next_wakeup()
            if not self._inbox:
                timeout = None if wake is None else max((wake - self._now()).total_seconds(), 0.0)
                if timeout is None or timeout > 0:
                    try:
                        await workflow.wait_condition(
                            lambda: bool(self._inbox),
                            timeout=timeout,
                            timeout_summary=engine.next_wakeup_summary(),
                        )
                    except TimeoutError:
                        pass
            now = self._now()
            # Deadlines that passed before the event arrived happened first
            # (matters only when the worker woke late, e.g. after an outage).
            actions = inputs.advance(engine, now) + self._drain(now)
        await workflow.wait_condition(workflow.all_handlers_finished)
        await inputs.settle()
        return self._status()

    async def _park_on_policy_error(self, err: Exception) -> TicketStatus:
        """Unknown or broken policy: say so in status and wait for an operator
        to resolve the ticket, rather than failing and losing its events."""
        self._error = f"policy {self._input.policy!r} could not be loaded: {failure_message(err)}"
        workflow.logger.error(self._error)
        workflow.set_current_details(f"**Stage** policy_error\n\n**Problem** {self._error}")
        workflow.upsert_search_attributes(
            [
                sa.TICKET_ID.value_set(workflow.info().workflow_id),
                sa.TICKET_POLICY.value_set(self._input.policy),
                sa.TICKET_STAGE.value_set("policy_error"),
            ]
        )
        await workflow.wait_condition(lambda: any(q.name == "resolved" for q in self._inbox))
        for q in self._inbox:
            q.done = True
        return self._status()

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.continue_as_new_after
        )

    # ---------------------------------------------------------- what it shows

    def _show_board(self) -> None:
        """The Web UI's board (current details): no command, so replays are unaffected."""
        e = cast(TicketEngine, self._engine)  # `run` sets the engine before it calls this
        workflow.set_current_details(
            ticket_board(self._status(), e.policy, e.state.ticket.conversation_url)
        )

    def _upsert_search_attributes(self) -> None:
        e = cast(TicketEngine, self._engine)  # `run` sets the engine before it calls this
        wanted: dict[SearchAttributeKey[Any], Any] = {
            sa.TICKET_ID: e.state.workflow_id,
            sa.TICKET_POLICY: e.policy.name,
            sa.TICKET_OWNER: e.state.owner or "",
            sa.TICKET_STAGE: e.state.stage,
            sa.SLA_STATE: e.sla_state(),
            sa.TICKET_VIP: bool(e.state.facts.get("vip")),
            sa.ESCALATION_LEVEL: e.state.level,
        }
        changed = [
            k.value_set(v) for k, v in wanted.items() if self._last_attributes.get(k.name) != v
        ]
        if changed:
            workflow.upsert_search_attributes(changed)
            self._last_attributes.update({k.name: v for k, v in wanted.items()})

    # ------------------------------------------------------------- event inbox

    def _drain(self, now: datetime) -> list[Action]:
        # `run` sets the engine and the input log before it drains the inbox.
        engine, inputs = cast(TicketEngine, self._engine), cast(InputLog, self._inputs)
        actions: list[Action] = []
        while self._inbox:
            q = self._inbox.pop(0)
            try:
                actions += self._apply(q.name, q.arg, now)
            except Rejected as exc:
                q.error = str(exc)
                engine.reject(q.name, str(exc), now)
            inputs.applied(q.name, q.arg, now, q.error)
            q.done = True
        return actions

    def _apply(self, name: str, a: Any, now: datetime) -> list[Action]:
        e = cast(TicketEngine, self._engine)  # `run` sets the engine before it applies events
        if name == "acknowledged":
            return e.acknowledged(a.by, now, a.event_id)
        if name == "agent_replied":
            return e.agent_replied(a.by, a.substantive, now, a.event_id)
        if name == "customer_replied":
            return e.customer_replied(now, a.event_id)
        if name == "resolved":
            return e.resolve(a.by, a.resolution, now, a.event_id)
        if name == "reopened":
            return e.reopen(a.by, now, a.event_id)
        if name == "escalate":
            return e.escalate(a.by, a.target, a.reason, a.payload, now, a.event_id)
        if name == "reassign":
            return e.reassign(a.to, a.by, now, a.event_id)
        if name == "classify":
            return e.classify(a.ask_type, a.labels, a.custom_attributes, now, a.event_id)
        if name == "vip_flag_changed":
            return e.vip_changed(a.vip, a.by, a.why, now, a.event_id)
        if name == "status_changed":
            return e.status_changed(a.status, now, a.event_id)
        if name == "handoff_response":
            return e.handoff_response(
                a.by, a.decision, a.founder_action, a.ok, a.handoff, now, a.event_id
            )
        if name == "page_update":
            return e.page_update(a.dedup_key, a.status, a.by, now, a.event_id)
        if name == "handoff_result":
            return e.handoff_result(
                a.handoff_id,
                a.outcome,
                a.by,
                a.decision,
                a.founder_action,
                a.new_owner,
                a.ladder,
                now,
            )
        raise Rejected(f"unknown event {name!r}")

    def _queue(self, name: str, arg: Any) -> _Queued:
        q = _Queued(name, arg)
        self._inbox.append(q)
        return q

    async def _queue_and_wait(self, name: str, arg: Any) -> TicketStatus:
        q = self._queue(name, arg)
        await workflow.wait_condition(lambda: q.done)
        if q.error:
            raise ApplicationError(q.error, type="Rejected", non_retryable=True)
        return self._status()

    # ------------------------------------------------ signals (webhook events)

    @workflow.signal
    def acknowledged(self, event: Acknowledged) -> None:
        self._queue("acknowledged", event)

    @workflow.signal
    def agent_replied(self, event: AgentReplied) -> None:
        self._queue("agent_replied", event)

    @workflow.signal
    def customer_replied(self, event: CustomerReplied) -> None:
        self._queue("customer_replied", event)

    @workflow.signal
    def resolved(self, event: Resolved) -> None:
        self._queue("resolved", event)

    @workflow.signal
    def reopened(self, event: Reopened) -> None:
        self._queue("reopened", event)

    @workflow.signal
    def escalate(self, event: Escalate) -> None:
        self._queue("escalate", event)

    @workflow.signal
    def reassign(self, event: Reassign) -> None:
        self._queue("reassign", event)

    @workflow.signal
    def classify(self, event: Classify) -> None:
        self._queue("classify", event)

    @workflow.signal
    def vip_flag_changed(self, event: VipFlagChanged) -> None:
        self._queue("vip_flag_changed", event)

    @workflow.signal
    def status_changed(self, event: StatusChanged) -> None:
        self._queue("status_changed", event)

    @workflow.signal
    def handoff_acknowledged(self, event: HandoffResponse) -> None:
        self._queue("handoff_response", event.model_copy(update={"ok": True, "decision": None}))

    @workflow.signal
    def handoff_decision(self, event: HandoffResponse) -> None:
        self._queue("handoff_response", event.model_copy(update={"ok": True}))

    @workflow.signal
    def handoff_failed(self, event: HandoffResponse) -> None:
        self._queue("handoff_response", event.model_copy(update={"ok": False}))

    @workflow.signal
    def page_update(self, event: PageUpdate) -> None:
        self._queue("page_update", event)

    @workflow.signal(name=HANDOFF_RESULT_SIGNAL)
    def handoff_result(self, result: HandoffResult) -> None:
        self._queue("handoff_result", result)

    # --------------------------------------------- updates (operator actions)

    def _validate(self) -> TicketEngine:
        if self._engine is None:
            raise ValueError(self._error or "ticket is still starting; try again in a moment")
        if self._engine.closed:
            raise ValueError("ticket is closed")
        return self._engine

    @workflow.update
    async def acknowledge(self, cmd: Acknowledged) -> TicketStatus:
        return await self._queue_and_wait("acknowledged", cmd)

    @acknowledge.validator
    def _check_acknowledge(self, cmd: Acknowledged) -> None:
        self._checked(lambda e: e.check_party(cmd.by))

    @workflow.update
    async def resolve(self, cmd: Resolved) -> TicketStatus:
        return await self._queue_and_wait("resolved", cmd)

    @resolve.validator
    def _check_resolve(self, cmd: Resolved) -> None:
        e = self._validate()
        if e.state.stage == "resolved":
            raise ValueError("ticket is already resolved")

    @workflow.update
    async def reopen(self, cmd: Reopened) -> TicketStatus:
        return await self._queue_and_wait("reopened", cmd)

    @reopen.validator
    def _check_reopen(self, cmd: Reopened) -> None:
        e = self._validate()
        if e.state.stage != "resolved":
            raise ValueError(f"only a resolved ticket can be reopened (it is {e.state.stage})")

    @workflow.update
    async def request_escalation(self, cmd: Escalate) -> TicketStatus:
        return await self._queue_and_wait("escalate", cmd)

    @request_escalation.validator
    def _check_escalation(self, cmd: Escalate) -> None:
        self._checked(lambda e: e.check_escalation(cmd.target, cmd.reason, cmd.payload))

    @workflow.update
    async def reassign_to(self, cmd: Reassign) -> TicketStatus:
        return await self._queue_and_wait("reassign", cmd)

    @reassign_to.validator
    def _check_reassign(self, cmd: Reassign) -> None:
        self._checked(lambda e: e.check_party(cmd.to))

    @workflow.update
    async def decide(self, cmd: HandoffResponse) -> TicketStatus:
        return await self._queue_and_wait("handoff_response", cmd)

    @decide.validator
    def _check_decide(self, cmd: HandoffResponse) -> None:
        self._checked(lambda e: e.check_handoff_response(cmd.decision, cmd.ok, cmd.handoff))

    def _checked(self, check: Callable[[TicketEngine], object]) -> None:
        e = self._validate()
        try:
            check(e)
        except Rejected as exc:
            raise ValueError(str(exc)) from None

    # ------------------------------------------------------------------ query

    @workflow.query
    def status(self) -> TicketStatus:
        return self._status()

    def _status(self) -> TicketStatus:
        e = self._engine
        wid = workflow.info().workflow_id
        if e is None:
            return TicketStatus(
                ticket_id=wid,
                short_id=short_id(wid),
                policy=self._input.policy,
                stage="policy_error" if self._error else "starting",
                error=self._error,
                vip=self._input.contact.vip,
                card=TicketCard.of(self._input),
            )
        s = e.state
        return TicketStatus(
            ticket_id=wid,
            short_id=short_id(wid),
            policy=e.policy.name,
            policy_version=e.policy.version,
            timezone=e.policy.timezone,
            owner=s.owner,
            stage=s.stage,
            vip=bool(s.facts.get("vip")),
            level=s.level,
            sla_state=e.sla_state(),
            now=self._now(),
            next_wakeup=e.next_wakeup(),
            clocks=list(s.clocks.values()),
            handoffs=list(s.handoffs.values()),
            pages=list(s.pages.values()),
            ladder=list(s.ladder),
            rejected_signals=list(s.rejected),
            facts=dict(s.facts),
            run_count=s.runs,
            card=TicketCard.of(s.ticket, s.opened_at),
            acknowledged_at=s.acknowledged_at,
            acknowledged_by=s.acknowledged_by,
            resolved_at=s.resolved_at,
        )
