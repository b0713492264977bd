"""Arm a timer once the workflow task's local activities are done.

A local activity holds the workflow task that scheduled it: the task's
commands, the timer of the ticket's next deadline among them, reach the
server only once the task's last local activity is done. A timer armed for
`deadline - workflow.now()` while one runs fires as late as the task was
held: when hundreds of tickets open at once and their local activities wait
for the worker's slots, a second or more after the deadline.

Behind `held-timers` the ticket's (and a handoff's) loop counts the local activities in
flight (`LocalCalls`, told by workflows/actions.py) and arms its timer only
when none is: each that ends moves the workflow's clock to its completion
(the SDK takes it from the activity's marker, so a replay sees the same
instants), so the timer is armed for what is really left. Waiting costs the
ticket nothing: while the task is held no signal or update reaches it
anyway, and each local attempt beside the loop is bounded (half a second;
workflows/actions.py).

What no clock in the task shows is how long the worker takes to finish it
after its last local activity: when hundreds of tickets open at once, a
second or two of queueing behind the other openings. So a new ticket arms
its first timer again in its next task (typically when its opening Chatwoot
call returns, seconds later), whose start the server stamps after the
opening task's commands were in: two history events a ticket, at its
opening, where the burst of openings no longer pushes its first deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from temporalio import workflow


class LocalCalls:
    """The local activities of one run now in flight."""

    def __init__(self) -> None:
        self.running = 0


@contextmanager
def counted(calls: LocalCalls | None) -> Iterator[None]:
    """Count a local activity in `calls` while it runs, when the run counts them."""
    if calls is not None:
        calls.running += 1
    try:
        yield
    finally:
        if calls is not None:
            calls.running -= 1


async def before_arming(calls: LocalCalls | None, woken: Callable[[], bool]) -> None:
    """Return once no counted local activity holds the task (at once when
    the run does not count them), or when `woken()`."""
    if calls is None:
        return
    await asyncio.sleep(0)  # what was just handed to the lanes and the writer starts first
    await workflow.wait_condition(lambda: not calls.running or woken())


def task_ended() -> Callable[[], bool]:
    """A check that turns true once the workflow task now running has ended."""
    task = workflow.info().get_current_history_length()
    return lambda: workflow.info().get_current_history_length() != task


class DeadlineTimer:
    """How a ticket sleeps until its next deadline: `calls` (None: not
    counted, the paths before `held-timers`) and `rearm_once` (a new ticket
    whose first timer is armed again in its next task)."""

    def __init__(self, calls: LocalCalls | None = None, rearm_once: bool = False) -> None:
        self.calls = calls
        self.rearm_once = rearm_once

    async def sleep(
        self,
        wake: datetime | None,
        now: Callable[[], datetime],
        woken: Callable[[], bool],
        summary: str | None,
    ) -> None:
        """Until `wake` (None: no deadline) or `woken()`."""
        if wake is not None:
            await before_arming(self.calls, woken)
        while not woken():
            timeout = None if wake is None else max((wake - now()).total_seconds(), 0.0)
            if timeout is not None and timeout <= 0:
                return
            ended = task_ended() if self.rearm_once and wake is not None else None
            try:
                await workflow.wait_condition(
                    _either(woken, ended), timeout=timeout, timeout_summary=summary
                )
            except TimeoutError:
                return
            self.rearm_once = False


def _either(woken: Callable[[], bool], ended: Callable[[], bool] | None) -> Callable[[], bool]:
    return lambda: woken() or (ended is not None and ended())
