"""HandoffWorkflow: one per handoff (tier 1 -> tier 2, agent -> chief of
staff -> founder, support -> engineering), a child of its ticket.

It waits for the success response (an acknowledgement, or a decision)
until its absolute deadline (business-time timeouts were computed by the
ticket when it started the handoff); on timeout or an explicit failure it
walks the pack's on-failure steps itself (page the target, the secondary
after a further delay, hand the ticket to a fallback owner) and reports the
outcome, and any later progress, to the ticket by signal. A late answer
stops what is left of the ladder and resolves the pages it raised. Its
engine's inputs are recorded under its own workflow id (workflows/inputs.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from engine.board import handoff_board
    from engine.core import Rejected
    from engine.handoff import HandoffEngine
    from engine.shared_policy import shared
    from models.actions import Action
    from models.handoff import (
        HANDOFF_RESULT_SIGNAL,
        HandoffInput,
        HandoffResponse,
        HandoffResult,
        HandoffStatus,
    )
    from models.signals import PageUpdate
    from workflows.actions import LOCAL_ATTEMPT_BESIDE_LOOP, ActionContext, ActionFailed, execute
    from workflows.batched import run_batched
    from workflows.held_task import DeadlineTimer, LocalCalls
    from workflows.inputs import InputLog
    from workflows.lanes import Lanes, Learned, lane_of
    from workflows.metrics import WorkflowMetrics
    from workflows.versions import Patch, patches_in_effect


@workflow.defn
class HandoffWorkflow:
    @workflow.init
    def __init__(self, inp: HandoffInput) -> None:
        inp.policy = shared(inp.policy)  # one copy of the pack for all cached workflows
        self._inp = inp
        self._engine = HandoffEngine(inp)
        self._inbox: list[HandoffResponse | PageUpdate] = []
        self._final: HandoffResult | None = None
        self._metrics = WorkflowMetrics(inp.policy.name)
        self._batched = False  # actions run concurrently, batched per system
        self._local = False  # PagerDuty and audit calls as local activities
        self._inputs: InputLog | None = None
        self._lanes: Lanes | None = None  # behind `background-lanes`
        self._timer = DeadlineTimer()  # how its next timer is armed (`held-timers`)

    def _now(self) -> datetime:
        return workflow.now() + timedelta(seconds=self._inp.clock_offset_seconds)

    @workflow.run
    async def run(self, inp: HandoffInput) -> HandoffResult:
        engine = self._engine
        patches = patches_in_effect(
            Patch.BATCHED_ACTIONS,
            Patch.LOCAL_LANES,
            Patch.TICKET_INPUTS,
            Patch.BACKGROUND_LANES,
            Patch.HELD_TIMERS,
        )
        self._batched = Patch.BATCHED_ACTIONS in patches
        self._local = self._batched and Patch.LOCAL_LANES in patches
        if Patch.BACKGROUND_LANES in patches:  # side effects beside the wait, a lane per system
            self._lanes = Lanes(
                self._now, self._alone_in_lane, self._learned, self._metrics.lane_job
            )
        inputs = self._inputs = InputLog(
            inp.handoff_id,
            None,
            inp.policy,
            self._ctx,
            self._now,
            seq=0 if Patch.TICKET_INPUTS in patches else None,
            local=self._local,
        )
        if self._lanes is not None:
            inputs.local_attempt = LOCAL_ATTEMPT_BESIDE_LOOP
        if Patch.HELD_TIMERS in patches:  # its timer armed once its local activities are done
            self._timer = DeadlineTimer(LocalCalls())
            inputs.calls = self._timer.calls
        inputs.add("open", self._now(), inp.model_dump(mode="json", exclude={"policy"}))
        while not engine.finished:
            self._show_board()
            # What the last round consumed (first: the opening), written beside the wait.
            inputs.flush()
            wake = engine.next_wakeup()
            if not self._inbox:
                summary = (
                    None
                    if wake is None
                    else f"{engine.spec.title}: waiting for {inp.target} until {wake.isoformat()}"
                    if engine.status == "open"
                    else f"{engine.spec.title}: next on-failure step"
                )
                await self._timer.sleep(
                    wake, self._now, lambda: bool(self._inbox), summary and summary[:200]
                )
            now = self._now()
            while self._inbox:
                response = self._inbox.pop(0)
                kind = "page_update" if isinstance(response, PageUpdate) else "respond"
                try:
                    actions, result = engine.receive(response, now)
                except Rejected as exc:
                    workflow.logger.warning("handoff response rejected", extra={"error": str(exc)})
                    inputs.applied(kind, response, now, str(exc))
                    continue
                inputs.applied(kind, response, now)
                await self._execute(actions)
                await self._report(result)
            if engine.status == "open" and now >= inp.deadline:
                inputs.add("timeout", now, source="timer")
                actions, result = engine.timeout(now)
                await self._execute(actions)
                await self._report(result)
            elif engine.status != "open":
                await self._execute(inputs.advance(engine, now))
                await self._report(engine.progress())
        if self._lanes is not None:
            await self._lanes.drain()
        await inputs.settle()
        self._show_board()
        return self._final or HandoffResult(handoff_id=inp.handoff_id, outcome="failed")

    def _show_board(self) -> None:
        """The Web UI's board (current details): no command, so replays are unaffected."""
        workflow.set_current_details(
            handoff_board(self.status(), self._inp, self._inp.ticket.conversation_url)
        )

    def _ctx(self) -> ActionContext:
        inp, state = self._inp, self._engine.steps.state
        return ActionContext(
            workflow_id=inp.ticket_workflow_id,
            ticket=inp.ticket,
            policy=inp.policy.name,
            facts=state.facts,
            owner=state.owner,
            stage="escalated",
            local=self._local,
            calls=self._timer.calls,
        )

    async def _execute(self, actions: list[Action]) -> None:
        self._metrics.observe(actions, self._now())
        ctx = self._ctx()
        if self._lanes is not None:
            self._lanes.raise_error()
            return self._lanes.dispatch(actions, ctx)
        if self._batched:
            return await run_batched(
                actions, lambda: ctx, lambda a: self._alone(a, ctx), self._action_failed
            )
        for a in actions:
            try:
                await execute(a, ctx)
            except ActionFailed as exc:
                self._action_failed(a, exc)

    async def _alone(self, a: Action, ctx: ActionContext) -> list[Action]:
        await execute(a, ctx)
        return []

    async def _alone_in_lane(self, a: Action) -> None:
        await execute(a, self._ctx())

    def _learned(self, item: Learned) -> None:
        """What a lane learned: a handoff asks no counts, so only failures."""
        if item.kind == "failed":
            self._metrics.action_failed(lane_of(item.action))
            self._action_failed(item.action, ActionFailed(item.why))

    def _action_failed(self, a: Action, exc: ActionFailed) -> None:
        workflow.logger.warning(
            "handoff action failed", extra={"action": a.kind, "error": str(exc)}
        )
        inputs = cast(InputLog, self._inputs)  # set by `run` before any action runs
        inputs.failed(a, str(exc), self._now())
        self._engine.steps.record_failure(
            self._now(), f"handoff:{self._inp.name}", a.kind, a.target, str(exc)
        )

    async def _report(self, result: HandoffResult | None) -> None:
        if result is None:
            return
        inputs = cast(InputLog, self._inputs)  # set by `run` before any result is reported
        # The ticket records who sent it (not on older runs: their signals stay as they were).
        if inputs.on:
            result = result.model_copy(update={"source": "handoff"})
        self._final = result
        handle = workflow.get_external_workflow_handle(self._inp.ticket_workflow_id)
        try:
            await handle.signal(HANDOFF_RESULT_SIGNAL, result)
        except ApplicationError as exc:  # the ticket has closed meanwhile
            workflow.logger.warning(
                "ticket gone, handoff result not delivered", extra={"error": exc.message}
            )

    @workflow.signal
    def respond(self, response: HandoffResponse) -> None:
        self._inbox.append(response)

    @workflow.signal
    def page_update(self, update: PageUpdate) -> None:
        self._inbox.append(update)

    @workflow.query
    def status(self) -> HandoffStatus:
        e = self._engine
        return HandoffStatus(
            handoff_id=self._inp.handoff_id,
            name=self._inp.name,
            target=self._inp.target,
            status=e.status,
            deadline=self._inp.deadline,
            pending_steps=len(e.steps.state.pending),
            ladder=list(e.steps.state.ladder),
        )
