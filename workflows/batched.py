"""Run the actions of one decision concurrently, batched per system.

The old path ran every action as its own activity, one after another: a VIP
ticket's opening took 12 workflow tasks and its breach page waited behind a
note and audit rows. Here the actions between two barriers (see below) are
split into lanes that do not depend on each other, run at the same time:

- Chatwoot: all its calls in one `chatwoot.apply_batch`, applied in order
  (a status change stays after the message before it; labels and custom
  attributes are read-merge-write, so they must not race each other);
- PagerDuty: its events one after another, in order (a resolve stays after
  its trigger), not waiting for Chatwoot or the audit rows;
- audit: every marker and audit row in one `audit.record_batch` transaction.

A lane of a single action runs that action's own activity, as before.
Barriers run alone, in order, after everything before them: handoff starts
and signals (the child must see the notes before it) and
`query.recent_level`, whose answer adds actions. Used by TicketWorkflow and
HandoffWorkflow behind the `batched-actions` patch; behind `local-lanes` the
PagerDuty and audit lanes run as local activities (see workflows/actions.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.actions import Action
    from models.batch import AuditBatchInput, BatchResult, ChatwootBatchInput
    from workflows.actions import (
        ACTIVITY_FAILED,
        ActionContext,
        ActionFailed,
        audit_item,
        chatwoot_op,
        execute,
        failure_message,
        local_options,
        run_activity,
    )
    from workflows.routes import BARRIERS, BATCH_ACTIVITIES, route


OnFailed = Callable[[Action, ActionFailed], None]
# A barrier's runner returns the actions its result adds (query.recent_level).
RunBarrier = Callable[[Action], Awaitable[list[Action]]]


def _lane(a: Action) -> str:
    """The batch that carries the action with others of its segment, else its lane."""
    r = route(a.kind)
    return r.batch or r.lane


def _summary(prefix: str, actions: list[Action]) -> str:
    return f"{prefix} x{len(actions)}: " + "; ".join(a.summary for a in actions)


async def run_batched(
    actions: list[Action],
    ctx: Callable[[], ActionContext],
    run_barrier: RunBarrier,
    on_failed: OnFailed,
) -> None:
    queue = list(actions)
    while queue:
        if queue[0].kind in BARRIERS:
            a = queue.pop(0)
            try:
                queue[0:0] = await run_barrier(a)
            except ActionFailed as exc:
                on_failed(a, exc)
            continue
        segment: list[Action] = []
        while queue and queue[0].kind not in BARRIERS:
            segment.append(queue.pop(0))
        await _run_segment(segment, ctx(), on_failed)


async def _run_segment(segment: list[Action], ctx: ActionContext, on_failed: OnFailed) -> None:
    lanes: dict[str, list[Action]] = {}
    for a in segment:
        lanes.setdefault(_lane(a), []).append(a)
    runners = {"chatwoot": _chatwoot, "audit": _audit}  # the batches of workflows/routes.py
    await asyncio.gather(
        *(runners.get(name, _one_by_one)(items, ctx, on_failed) for name, items in lanes.items())
    )


async def _one_by_one(actions: list[Action], ctx: ActionContext, on_failed: OnFailed) -> None:
    for a in actions:
        try:
            await execute(a, ctx)
        except ActionFailed as exc:
            on_failed(a, exc)


async def _batch(
    fn,
    arg,
    actions: list[Action],
    summary: str,
    on_failed: OnFailed,
    ctx: ActionContext | None = None,
) -> None:
    try:
        result: BatchResult = await run_activity(fn, arg, summary, *local_options(ctx))
    except ACTIVITY_FAILED as err:
        why = failure_message(err)
        for a in actions:
            on_failed(a, ActionFailed(f"{a.summary}: {why}"))
        return
    # One outcome per action sent; a short answer leaves the rest unreported rather than
    # raising inside the workflow task.
    for a, outcome in zip(actions, result.outcomes, strict=False):
        if not outcome.ok:
            on_failed(a, ActionFailed(f"{a.summary}: {outcome.error}"))


async def _chatwoot(actions: list[Action], ctx: ActionContext, on_failed: OnFailed) -> None:
    if len(actions) == 1:
        return await _one_by_one(actions, ctx, on_failed)
    ops, batched = [], []
    for a in actions:
        try:
            ops.append(chatwoot_op(a, ctx))
            batched.append(a)
        except ActionFailed as exc:
            on_failed(a, exc)
    if not ops:
        return
    actions = batched
    await _batch(
        BATCH_ACTIVITIES["chatwoot"],
        ChatwootBatchInput(ops=ops),
        actions,
        _summary("Chatwoot", actions),
        on_failed,
    )


async def _audit(actions: list[Action], ctx: ActionContext, on_failed: OnFailed) -> None:
    if len(actions) == 1:
        return await _one_by_one(actions, ctx, on_failed)
    await _batch(
        BATCH_ACTIVITIES["audit"],
        AuditBatchInput(items=[audit_item(a, ctx) for a in actions]),
        actions,
        _summary("Audit", actions),
        on_failed,
        ctx,
    )
