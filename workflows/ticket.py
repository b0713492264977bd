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
- Timers and activities carry summaries for the Web UI; search attributes filter.
- Every input the engine consumes is recorded in Postgres (`ticket_inputs`,
  workflows/inputs.py), enough to replay the ticket's life without Temporal.
- A ticket the bridge starts for an old conversation reads its history first
  (workflows/adoption.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from engine.core import Rejected, TicketEngine
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
    from models.ticket_input import TicketCarry, TicketInput
    from workflows.actions import ACTIVITY_FAILED, LOCAL_ATTEMPT_BESIDE_LOOP, failure_message
    from workflows.adoption import adopt_history
    from workflows.held_task import DeadlineTimer
    from workflows.inputs import InputLog
    from workflows.lanes import Learned
    from workflows.metrics import WorkflowMetrics
    from workflows.reply_check import check_reply, with_check_noted
    from workflows.shadow import went_live
    from workflows.ticket_actions import TicketActionRunner, load_policy
    from workflows.ticket_inbox import LANE, Queued, decide_in_order, drain
    from workflows.ticket_view import SearchAttributes, show_board, ticket_status
    from workflows.versions import Patch, patches_in_effect


@workflow.defn
class TicketWorkflow:
    @workflow.init
    def __init__(self, ticket: TicketInput) -> None:
        self._input = ticket
        self._engine: TicketEngine | None = None
        self._inbox: list[Queued] = []
        self._error: str | None = None
        self._attributes = SearchAttributes()
        self._metrics = WorkflowMetrics(ticket.policy)
        self._batched = False  # a decision's actions run concurrently, batched per system
        self._local = False  # policy load, PagerDuty and audit calls as local activities
        self._inputs: InputLog | None = None  # what the engine consumed (workflows/inputs.py)
        self._applied_at = workflow.now()  # the last instant applied (`background-lanes`)
        self._timer = DeadlineTimer()  # how the next deadline's timer is armed (`held-timers`)

    def _now(self) -> datetime:
        return workflow.now() + timedelta(seconds=self._input.clock_offset_seconds)

    # ------------------------------------------------------------------- main

    @workflow.run
    async def run(self, ticket: TicketInput) -> TicketStatus:
        wid = workflow.info().workflow_id
        patches = patches_in_effect(
            Patch.EVENT_STAGE_MARKERS,
            Patch.SOP_EVENT_ORDERS,
            Patch.BATCHED_ACTIONS,
            Patch.LOCAL_LANES,
            Patch.PACKED_POLICY,
            Patch.TICKET_INPUTS,
            Patch.DECISION_UPSERTS,
            Patch.BACKGROUND_LANES,
            Patch.SHADOW_MODE,
            Patch.CHAT_CHANNELS,
            Patch.HELD_TIMERS,
            Patch.ADOPT_AT_OPENING,
        )
        stage_markers = Patch.EVENT_STAGE_MARKERS in patches
        sop_orders = Patch.SOP_EVENT_ORDERS in patches
        self._batched = Patch.BATCHED_ACTIONS in patches
        self._local = self._batched and Patch.LOCAL_LANES in patches
        opening: datetime | None = None  # a new ticket's first `now` (a continued run has none)
        if ticket.carry is not None:
            carried, inputs_seq = ticket.carry.state, ticket.carry.inputs_seq
            self._engine = TicketEngine(shared(ticket.carry.policy), carried)
            ticket.carry = None  # its policy copy would stay alive with the input otherwise
            self._engine.event_stage_markers = stage_markers
            self._engine.sop_orders = sop_orders
            self._engine.chat_updates = Patch.CHAT_CHANNELS in patches
            self._metrics.escalated = bool(carried.level or carried.facts.get("escalated"))
            actions: list[Action] = []
        else:
            try:
                # One shared object per pack content: this frame lives as long as the ticket.
                policy, shadow = await load_policy(
                    ticket.policy, ticket.inbox_id, Patch.PACKED_POLICY in patches, self._local
                )
            except ACTIVITY_FAILED as err:
                return await self._park_on_policy_error(err)
            await adopt_history(ticket, Patch.ADOPT_AT_OPENING in patches, self._now)
            self._engine = TicketEngine.new(policy, ticket.ticket(), wid, ticket.life, shadow)
            self._engine.event_stage_markers = stage_markers
            self._engine.sop_orders = sop_orders
            self._engine.chat_updates = Patch.CHAT_CHANNELS in patches
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
            inputs_seq=inputs_seq if Patch.TICKET_INPUTS in patches else None,
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
                    **({"shadow": engine.state.shadow} if engine.state.shadow else {}),
                },
                None,
            )
        decision_upserts = Patch.DECISION_UPSERTS in patches
        if Patch.BACKGROUND_LANES in patches:
            # Applied so far: a new ticket, up to its opening (creation); a continued run, now.
            opened = engine.state.opened_at if opening is not None else None
            self._applied_at = opened or self._now()
            checks = Patch.SHADOW_MODE in patches  # a ticket in shadow asks before each decision
            if Patch.HELD_TIMERS in patches:
                self._timer = DeadlineTimer(runner.count_local_calls(), opening is not None)
            return await self._run_beside_lanes(ticket, runner, actions, checks)
        while True:
            if decision_upserts:
                # Visible from the task that decided it, not after its actions return:
                # a hanging Chatwoot cannot keep a breached ticket off the board.
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
                    self._continue_as_new(ticket, engine, inputs)
            await self._sleep(engine, lambda: False)
            now = self._now()
            # Deadlines that passed before the event arrived happened first (a late wake).
            actions = inputs.advance(engine, now) + drain(engine, inputs, self._inbox, now)
        await workflow.wait_condition(workflow.all_handlers_finished)
        await inputs.settle()
        return self._status()

    async def _run_beside_lanes(
        self, ticket: TicketInput, runner: TicketActionRunner, actions: list[Action], checks: bool
    ) -> TicketStatus:
        """The loop behind `background-lanes`: a decision's actions go to their lanes
        (workflows/lanes.py), the loop straight back to its timers and inbox: a page
        never waits for Chatwoot or Postgres, nor an operator's update for a stuck lane."""
        engine, inputs = cast(TicketEngine, self._engine), runner.inputs
        inputs.local_attempt = LOCAL_ATTEMPT_BESIDE_LOOP
        lanes = runner.lanes(self._learned)
        while True:
            self._upsert_search_attributes()
            runner.dispatch(actions)
            actions = []
            inputs.flush()  # what this decision consumed, written beside the loop
            self._show_board()
            if engine.closed:
                break
            if self._should_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await lanes.drain()
                await inputs.settle()
                if not self._inbox:
                    self._continue_as_new(ticket, engine, inputs)
            await self._sleep(engine, lambda: lanes.error is not None)
            lanes.raise_error()
            if checks and engine.state.shadow is not None:
                # Going live, if the worker says so, comes first in this decision.
                self._inbox[:0] = await went_live(engine, self._now(), self._applied_at)
            waiting = {q.name for q in self._inbox}
            check = await check_reply(engine, self._now(), lanes.failing("chatwoot"), waiting)
            if check.reply is not None:
                self._queue("agent_replied", check.reply)
            actions = with_check_noted(self._decide_in_order(runner, self._now()), check)
        # Closed: a failure the lanes still learn is kept and audited; later events are not.
        while True:
            await workflow.wait_condition(workflow.all_handlers_finished)
            await lanes.drain()
            learned = [q for q in self._inbox if q.name == LANE]
            self._inbox = [q for q in self._inbox if q.name != LANE]
            if not learned:
                break
            for q in learned:
                runner.dispatch(runner.learned(q.arg, q.at))
        await inputs.settle()
        return self._status()

    def _decide_in_order(self, runner: TicketActionRunner, now: datetime) -> list[Action]:
        """The inbox and the deadlines due by `now`, in the order they happened."""
        items, self._inbox, since, self._applied_at = self._inbox, [], self._applied_at, now
        engine = cast(TicketEngine, self._engine)
        return decide_in_order(engine, runner.inputs, items, runner.learned, since, now)

    def _learned(self, item: Learned) -> None:
        self._inbox.append(Queued(LANE, item, self._now()))

    async def _park_on_policy_error(self, err: Exception) -> TicketStatus:
        """Unknown or broken policy: say so in status and wait for an operator
        to resolve the ticket, rather than failing and losing its events."""
        self._error = f"policy {self._input.policy!r} could not be loaded: {failure_message(err)}"
        workflow.logger.error(self._error)
        self._metrics.policy_error()
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

    async def _sleep(self, engine: TicketEngine, woken: Callable[[], bool]) -> None:
        """Until the next deadline, an inbox item, or `woken()` (workflows/held_task.py)."""
        if self._inbox:
            return
        await self._timer.sleep(
            engine.next_wakeup(),
            self._now,
            lambda: bool(self._inbox) or woken(),
            engine.next_wakeup_summary(),
        )

    def _continue_as_new(self, ticket: TicketInput, engine: TicketEngine, inputs: InputLog) -> None:
        engine.state.runs += 1
        carry = TicketCarry(
            state=engine.state,
            policy=engine.policy,
            inputs_seq=inputs.seq if inputs.on else None,
        )
        workflow.continue_as_new(ticket.model_copy(update={"carry": carry}))

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.continue_as_new_after
        )

    # ------------------------------------------------------------- event inbox

    def _queue(self, name: str, arg: Any) -> Queued:
        q = Queued(name, arg, getattr(arg, "occurred_at", None) or self._now())
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
        return ticket_status(self._engine, self._input, self._error, self._now())

    def _show_board(self) -> None:
        show_board(self._status(), cast(TicketEngine, self._engine))

    def _upsert_search_attributes(self) -> None:
        self._attributes.upsert(cast(TicketEngine, self._engine))
