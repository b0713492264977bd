"""Carrying out a ticket decision's actions, from inside TicketWorkflow
(and loading its pack, once, before the first).

The engine decides; this runs what it decided, in the order it decided it:
activities (one at a time for tickets started before `batched-actions`,
batched per system after it, see workflows/batched.py), the handoff child
workflows it starts and the responses and page updates it forwards to them,
and the `query.recent_level` answer it feeds back to the engine (whose
actions run next; noted, as a failure is, in the ticket's `InputLog`,
workflows/inputs.py). Each batch is first counted in the business metrics
(workflows/metrics.py), as HandoffWorkflow counts its own. An action that
still fails after its retries is kept in the ticket's ladder and audit
trail, never raised: a Chatwoot outage must not stop a ticket. Kept out of
workflows/ticket.py so that the workflow reads as its loop, its signals and
its updates.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.policy import PolicyActivities
    from engine.board import handoff_start_metadata
    from engine.core import TicketEngine
    from engine.shared_policy import shared, shared_packed
    from models.actions import Action
    from models.handoff import HandoffInput, HandoffResponse
    from models.policy import Policy
    from models.policy_io import LoadPolicyInput
    from models.signals import PageUpdate
    from workflows.actions import RETRY, ActionContext, ActionFailed, execute, run_activity
    from workflows.batched import run_batched
    from workflows.failures import audit_failed_action
    from workflows.handoff import HandoffWorkflow
    from workflows.held_task import LocalCalls
    from workflows.inputs import InputLog
    from workflows.lanes import Lanes, Learned, lane_of, local_if
    from workflows.metrics import WorkflowMetrics


async def load_policy(
    name: str, inbox_id: int | None, packed: bool, local: bool
) -> tuple[Policy, str | None]:
    """The ticket's pack, one shared object per pack content: compressed and
    a local attempt first after `packed-policy` (as the actions' calls,
    workflows/actions.py); the older paths as they always ran. With it, why
    the worker runs this pack and inbox in shadow mode (None: live; always
    None on the older paths)."""
    inp, summary = LoadPolicyInput(name=name, inbox_id=inbox_id), f"Load policy pack {name}"
    if packed:
        loaded = await run_activity(PolicyActivities.load_packed, inp, summary, local=local)
        return shared_packed(loaded), loaded.shadow
    if local:
        return shared(await run_activity(PolicyActivities.load, inp, summary, local=True)), None
    return shared(
        await workflow.execute_activity_method(
            PolicyActivities.load,
            inp,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
            summary=summary,
        )
    ), None


class TicketActionRunner:
    def __init__(
        self,
        engine: TicketEngine,
        now: Callable[[], datetime],
        metrics: WorkflowMetrics,
        *,
        batched: bool,
        local: bool,
        clock_offset_seconds: float,
        inputs_seq: int | None = None,
    ) -> None:
        self._engine = engine
        self._now = now
        self._metrics = metrics
        self._batched = batched  # a decision's actions run concurrently, batched per system
        self._local = local  # PagerDuty and audit calls as local activities
        self._clock_offset_seconds = clock_offset_seconds
        # The engine's inputs (`ticket-inputs` patch); `inputs_seq` None: not recorded.
        wid = engine.state.workflow_id
        # The key base is `<wid>:<life>` (TicketEngine.new), else the wid.
        life = engine.key_base[len(wid) + 1 :]
        self.inputs = InputLog(
            wid, life, engine.policy, self._ctx, now, seq=inputs_seq, local=local
        )
        # The source of what it forwards to a handoff.
        self._forwarded = "system" if self.inputs.on else None
        self._lanes: Lanes | None = None  # behind `background-lanes` (`lanes`)
        self._calls: LocalCalls | None = None  # behind `held-timers` (`count_local_calls`)

    def _ctx(self) -> ActionContext:
        e = self._engine
        return ActionContext(
            workflow_id=e.state.workflow_id,
            ticket=e.state.ticket,
            policy=e.policy.name,
            facts=e.state.facts,
            owner=e.state.owner,
            level=e.state.level,
            stage=e.state.stage,
            local=self._local,
            calls=self._calls,
        )

    def count_local_calls(self) -> LocalCalls:
        """Count the local activities the lanes and the inputs record have
        in flight (workflows/held_task.py)."""
        self._calls = self.inputs.calls = LocalCalls()
        return self._calls

    async def execute(self, actions: list[Action]) -> None:
        """Count a decided batch in the business metrics, then run it."""
        self._observe(actions)
        if self._batched:
            failed: list[tuple[Action, str]] = []
            await run_batched(
                actions,
                self._ctx,
                self._run_one,
                lambda a, exc: failed.append(self._action_failed(a, exc)),
            )
            # In the audit trail too, once the decision's batch is done.
            for a, why in failed:
                await audit_failed_action(a, self._ctx(), why, self._now())
            return
        queue = list(actions)  # the path of tickets started before `batched-actions`: one at a time
        while queue:
            a = queue.pop(0)
            try:
                queue[0:0] = await self._run_one(a)
            except ActionFailed as exc:
                _, why = self._action_failed(a, exc)
                await audit_failed_action(a, self._ctx(), why, self._now())

    # ---------------------------------------------- lanes beside the loop

    def lanes(self, learned: Callable[[Learned], None]) -> Lanes:
        """The ticket's lanes (`background-lanes` patch): `dispatch` hands
        them a decision; what they learn goes to `learned` (the inbox)."""
        self._lanes = Lanes(self._now, self._run_handoff, learned, self._metrics.lane_job)
        return self._lanes

    def dispatch(self, actions: list[Action]) -> None:
        """Count a decided batch in the business metrics, hand it to the lanes."""
        assert self._lanes is not None, "dispatch before lanes"
        self._observe(actions)
        self._lanes.dispatch(actions, self._ctx())

    def learned(self, item: Learned, now: datetime) -> list[Action]:
        """What a lane found out, applied to the engine at `now` (and
        recorded as an input): a failure is kept in the ladder and its audit
        row queued on the Postgres lane; a count feeds the pack's rules."""
        a = item.action
        if item.kind == "counted":
            level = a.params["level"]
            self.inputs.add(
                "recent_level_counted", now, {"level": level, "count": item.count, "key": a.key}
            )
            return self._engine.recent_level_counted(level, item.count, now)
        self._metrics.action_failed(lane_of(a))
        _, why = self._action_failed(a, ActionFailed(item.why))
        ctx = self._ctx()
        assert self._lanes is not None, "a lane's answer before lanes"
        self._lanes.submit(
            "postgres", lambda local: audit_failed_action(a, local_if(ctx, local), why, now)
        )
        return []

    async def _run_handoff(self, a: Action) -> None:
        await self._run_one(a)

    def _observe(self, actions: list[Action]) -> None:
        """Business metrics for a decided batch (replay-safe; see workflows/metrics.py)."""
        if actions:
            started = workflow.info().workflow_start_time + timedelta(
                seconds=self._clock_offset_seconds
            )
            self._metrics.observe(
                actions, self._now(), started, vip=bool(self._engine.state.facts.get("vip"))
            )

    async def _run_one(self, a: Action) -> list[Action]:
        """Run one action on its own (a barrier in workflows/batched.py, or
        any action on the old path); return what its answer adds."""
        if a.kind == "handoff.start":
            await self._start_handoff(a)
        elif a.kind == "handoff.signal":
            await self._signal_handoff(a)
        elif a.kind == "handoff.page":
            await self._forward_page_update(a)
        else:
            result = await execute(a, self._ctx())
            if a.kind == "query.recent_level":
                level, now = a.params["level"], self._now()
                self.inputs.add(
                    "recent_level_counted",
                    now,
                    {"level": level, "count": result.count, "key": a.key},
                )
                return self._engine.recent_level_counted(level, result.count, now)
        return []

    def _action_failed(self, a: Action, exc: ActionFailed) -> tuple[Action, str]:
        workflow.logger.warning("action failed", extra={"action": a.kind, "error": str(exc)})
        self.inputs.failed(a, str(exc), self._now())
        self._engine.record_failure(self._now(), "ticket", a.kind, a.target, str(exc))
        return a, str(exc)

    async def _start_handoff(self, a: Action) -> None:
        e, p = self._engine, a.params
        inp = HandoffInput(
            handoff_id=p["handoff_id"],
            ticket_workflow_id=e.state.workflow_id,
            name=p["name"],
            target=p["target"],
            reason=p.get("reason"),
            payload=p.get("payload", {}),
            by=p["by"],
            owner=p.get("owner"),
            started_at=datetime.fromisoformat(p["started_at"]),
            deadline=datetime.fromisoformat(p["deadline"]),
            policy=e.policy,
            ticket=e.state.ticket,
            facts=p.get("facts", {}),
            context=p.get("context", {}),
            clock_offset_seconds=self._clock_offset_seconds,
            shadow=p.get("shadow"),
        )
        meta = handoff_start_metadata(inp, a.summary)  # the start options for the Web UI
        await workflow.start_child_workflow(
            HandoffWorkflow.run,
            inp,
            id=p["handoff_id"],
            parent_close_policy=ParentClosePolicy.ABANDON,
            static_summary=meta["static_summary"],
            static_details=meta["static_details"],
        )

    async def _signal_handoff(self, a: Action) -> None:
        p = a.params
        handle = workflow.get_external_workflow_handle(p["handoff_id"])
        try:
            await handle.signal(
                HandoffWorkflow.respond,
                HandoffResponse(
                    by=p["by"],
                    ok=p["ok"],
                    decision=p.get("decision"),
                    founder_action=p.get("founder_action"),
                    source=self._forwarded,
                ),
            )
        except ApplicationError as exc:  # the handoff has already finished
            raise ActionFailed(
                f"handoff {p['handoff_id']} is no longer running: {exc.message}"
            ) from None

    async def _forward_page_update(self, a: Action) -> None:
        p = a.params
        try:
            await workflow.get_external_workflow_handle(p["handoff_id"]).signal(
                HandoffWorkflow.page_update,
                PageUpdate(
                    dedup_key=p["dedup_key"],
                    status=p["status"],
                    by=p.get("by"),
                    source=self._forwarded,
                ),
            )
        except ApplicationError as exc:
            raise ActionFailed(
                f"handoff {p['handoff_id']} is no longer running: {exc.message}"
            ) from None
