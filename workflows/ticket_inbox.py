"""A ticket's inbox: what its signals, updates and lanes queue, and how the
loop hands it to the engine.

Two ways, one per code path:

- `drain` (tickets started before `background-lanes`): every queued item at
  the wake's `now`, after the deadlines due by then;
- `decide_in_order` (`background-lanes`): deadlines and items in the order
  they happened. An item counts from its `at` (the sender's `occurred_at`,
  else its arrival), clamped between the last instant the ticket applied
  and now, and comes after the deadlines due strictly before it: a reply
  sent before its deadline stops the clock even when the ticket sees both
  in one wake (after an outage, in a burst, after a worker restart).

Every item applied is recorded in the ticket's `InputLog` with the instant
it was applied at; a refused one with the engine's refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.context import Rejected
    from engine.core import TicketEngine
    from models.actions import Action
    from workflows.inputs import InputLog
    from workflows.lanes import Learned

LANE = "lane"  # the inbox name of what a lane learned (workflows/lanes.py)


@dataclass
class Queued:
    """An inbox item: a signal, an update, or what a lane learned (`LANE`).
    `at`: when it happened (the sender's `occurred_at`, else its arrival)."""

    name: str
    arg: Any
    at: datetime
    done: bool = False
    error: str | None = None


def _apply_one(engine: TicketEngine, inputs: InputLog, q: Queued, now: datetime) -> list[Action]:
    actions: list[Action] = []
    try:
        actions = engine.receive(q.arg, now)
    except Rejected as exc:
        q.error = str(exc)
        engine.reject(q.name, str(exc), now)
    inputs.applied(q.name, q.arg, now, q.error)
    q.done = True
    return actions


def drain(
    engine: TicketEngine, inputs: InputLog, inbox: list[Queued], now: datetime
) -> list[Action]:
    """Every item of `inbox` (emptied) at `now`, in arrival order."""
    actions: list[Action] = []
    while inbox:
        actions += _apply_one(engine, inputs, inbox.pop(0), now)
    return actions


def decide_in_order(
    engine: TicketEngine,
    inputs: InputLog,
    items: list[Queued],
    learned: Callable[[Learned, datetime], list[Action]],
    since: datetime,
    now: datetime,
) -> list[Action]:
    """`items` and every deadline due by `now`, in the order they happened
    (never before `since`, the last instant applied); `learned` applies what
    a lane learned."""
    for q in items:
        q.at = min(max(q.at, since), now)
    items = sorted(items, key=lambda q: q.at)  # stable: same-instant items keep arrival order
    actions: list[Action] = []
    for q in items:
        actions += inputs.advance(engine, now, before=q.at)
        if q.name == LANE:
            actions += learned(q.arg, q.at)
            q.done = True
        else:
            actions += _apply_one(engine, inputs, q, q.at)
    return actions + inputs.advance(engine, now)
