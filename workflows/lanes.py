"""A ticket's side effects, run beside its loop in one ordered lane per system.

Behind the `background-lanes` patch the ticket's loop no longer waits for a
decision's actions: it hands them to the lanes and goes back to its timers
and its inbox at once. Each system has its own lane, and each lane runs its
jobs one after another, in the order they were decided, across decisions:

- `pagerduty`: pages, acknowledgements and resolves, one event at a time
  (a resolve stays after its trigger);
- `chatwoot`: a decision's messages, notes, labels, assignment and status in
  one `chatwoot.apply_batch` (a note never overtakes the label before it);
- `postgres`: markers and audit rows in one `audit.record_batch`, and the
  `query.recent_level` count, in order;
- `handoff`: child handoff workflows started, signalled, told of a page.

So a page never waits for Chatwoot or Postgres, and a Chatwoot note never
waits for Postgres: a system that hangs holds only its own lane.

A local activity holds the ticket's whole workflow task while it runs (no
signal or update is taken until it ends), so the lanes that run locally
(`local-lanes`: PagerDuty, Postgres) try a job locally only while their
system answers: a local first attempt is bounded to `LOCAL_ATTEMPT` (half a
second), and a lane whose last job took longer (its local attempt timed out
and a regular activity took over) runs its next jobs as regular activities
until one is done within that bound again. A hung Postgres therefore holds
the ticket for half a second once, not at every decision. What a lane
learns goes back to the ticket as an input (`Learned`: an action that failed
after its retries, the answer to a count), which the loop applies and
records like any other. An exception that is not an action's failure (a bug)
is kept and raised by the loop (`raise_error`): never lost. `drain` waits for
every lane, before continue-as-new and before the run ends.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, get_args

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.actions import Action
    from workflows.actions import (
        LOCAL_ATTEMPT_BESIDE_LOOP,
        ActionContext,
        ActionFailed,
        execute,
    )
    from workflows.batched import _audit, _chatwoot, _one_by_one
    from workflows.routes import LaneName, route


LANE_NAMES: tuple[LaneName, ...] = get_args(LaneName)


def lane_of(a: Action) -> LaneName:
    """The system an action's side effect goes to (workflows/routes.py)."""
    return route(a.kind).lane


@dataclass(frozen=True)
class Learned:
    """What a lane found out, for the ticket's engine: `failed` (the action
    could not be carried out after its retries; `why`) or `counted` (the
    answer to a `query.recent_level`; `count`)."""

    kind: Literal["failed", "counted"]
    action: Action
    why: str = ""
    count: int = 0


# A job gets `local`: whether its system answered the lane's last job in time
# (workflows/actions.py runs it locally first only then).
Job = Callable[[bool], Awaitable[None]]
Observe = Callable[[str, str, "float | None"], None]


class Lane:
    """Jobs of one system, run one at a time in the order submitted;
    `observe(lane, state, waited)` is told of each submission and end."""

    def __init__(
        self, name: LaneName, now: Callable[[], datetime], observe: Observe | None = None
    ) -> None:
        self.name = name
        self._now = now
        self._observe = observe
        self._jobs: deque[tuple[datetime, Job]] = deque()
        self._task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None
        self.answering = True  # the last job was done within LOCAL_ATTEMPT_BESIDE_LOOP

    @property
    def backlog(self) -> int:
        return len(self._jobs)

    @property
    def oldest(self) -> datetime | None:
        """When the job at the head of the lane was submitted (None: idle)."""
        return self._jobs[0][0] if self._jobs else None

    @property
    def idle(self) -> bool:
        return self._task is None

    def submit(self, job: Job) -> None:
        self._jobs.append((self._now(), job))
        if self._observe is not None:
            self._observe(self.name, "submitted", None)
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            while self._jobs:
                began = self._now()
                await self._jobs[0][1](self.answering)
                self.answering = self._now() - began < LOCAL_ATTEMPT_BESIDE_LOOP
                submitted, _ = self._jobs.popleft()
                if self._observe is not None:
                    waited = (self._now() - submitted).total_seconds()
                    self._observe(self.name, "done", waited)
        except Exception as exc:  # a bug, not a failed action: the loop raises it
            self.error = exc
            self._jobs.clear()
        finally:
            self._task = None


class Lanes:
    """The lanes of one ticket (or handoff) run."""

    def __init__(
        self,
        now: Callable[[], datetime],
        run_handoff: Callable[[Action], Awaitable[None]],
        learned: Callable[[Learned], None],
        observe: Observe | None = None,
    ) -> None:
        self._lanes = {name: Lane(name, now, observe) for name in LANE_NAMES}
        self._run_handoff = run_handoff
        self._learned = learned

    # ----------------------------------------------------------------- state

    @property
    def idle(self) -> bool:
        return all(lane.idle for lane in self._lanes.values())

    @property
    def error(self) -> BaseException | None:
        return next((lane.error for lane in self._lanes.values() if lane.error), None)

    def failing(self, name: LaneName) -> bool:
        """The lane has work waiting and its last job took longer than
        LOCAL_ATTEMPT_BESIDE_LOOP: its system is failing or slow. A lane whose
        first job is still out is not (that call may only be waiting on
        Temporal, after an outage of Temporal's own)."""
        lane = self._lanes[name]
        return lane.backlog > 0 and not lane.answering

    def busy(self, name: LaneName) -> bool:
        """The lane still has work waiting (its system is slow or failing)."""
        return self._lanes[name].backlog > 0

    def backlog(self) -> dict[str, int]:
        return {name: lane.backlog for name, lane in self._lanes.items()}

    def oldest(self) -> dict[str, datetime | None]:
        return {name: lane.oldest for name, lane in self._lanes.items()}

    def raise_error(self) -> None:
        err = self.error
        if err is not None:
            raise err

    async def drain(self) -> None:
        """Every lane empty (or stopped by an error, which is then raised)."""
        await workflow.wait_condition(lambda: self.idle)
        self.raise_error()

    # -------------------------------------------------------------- dispatch

    def dispatch(self, actions: list[Action], ctx: ActionContext) -> None:
        """Hand a decision's actions to their lanes; return at once.

        The context is frozen as of the decision (`facts` copied): a lane
        that runs later writes the audit rows of the ticket as it was when
        it decided, not as it is by then."""
        if not actions:
            return
        ctx = replace(ctx, facts=dict(ctx.facts))
        by_lane: dict[LaneName, list[Action]] = {}
        for a in actions:
            by_lane.setdefault(lane_of(a), []).append(a)
        for name, items in by_lane.items():
            self._lanes[name].submit(self._job(name, items, ctx))

    def submit(self, name: LaneName, job: Job) -> None:
        """A job of the workflow's own for a lane (e.g. a failure's audit row)."""
        self._lanes[name].submit(job)

    def _job(self, name: LaneName, items: list[Action], ctx: ActionContext) -> Job:
        if name == "handoff":
            return lambda _local: self._handoffs(items)
        if name == "postgres":
            return lambda local: self._postgres(items, local_if(ctx, local))
        if name == "chatwoot":
            return lambda _local: _chatwoot(items, ctx, self._failed)
        return lambda local: _one_by_one(items, local_if(ctx, local), self._failed)

    def _failed(self, a: Action, exc: ActionFailed) -> None:
        self._learned(Learned("failed", a, why=str(exc)))

    async def _handoffs(self, items: list[Action]) -> None:
        for a in items:
            try:
                await self._run_handoff(a)
            except ActionFailed as exc:
                self._failed(a, exc)

    async def _postgres(self, items: list[Action], ctx: ActionContext) -> None:
        """Audit rows in batches, each `query.recent_level` in its place
        (after the rows decided before it), its answer sent back."""
        batch: list[Action] = []
        for a in [*items, None]:
            if a is not None and a.kind != "query.recent_level":
                batch.append(a)
                continue
            if batch:
                await _audit(batch, ctx, self._failed)
                batch = []
            if a is not None:
                await self._count(a, ctx)

    async def _count(self, a: Action, ctx: ActionContext) -> None:
        try:
            result: Any = await execute(a, ctx)
        except ActionFailed as exc:
            self._failed(a, exc)
            return
        self._learned(Learned("counted", a, count=result.count))


def local_if(ctx: ActionContext, answering: bool) -> ActionContext:
    """The context a lane's job runs with: local first attempts (bounded to
    LOCAL_ATTEMPT_BESIDE_LOOP) only while the lane's system answers."""
    if not ctx.local:
        return ctx
    return replace(ctx, local=answering, local_attempt=LOCAL_ATTEMPT_BESIDE_LOOP)
