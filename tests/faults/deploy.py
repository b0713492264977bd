"""The fault stack for the rolling-deploy scenario, and what it reads from
workflow histories.

`DeployStack` is the fault stack (tests/faults/stack.py) with a slower ladder
(first page 4 s after opening, the second 20 s later; 60 s at full scale,
where a deploy beside 400 tickets takes longer), so a ticket paged once
before a deploy is still mid-ladder when the deploy ends, and with workers of
the next version that can be started beside the running one and retired with
SIGTERM, as a rolling deploy does.

Which worker did what comes from the histories: each workflow task and
activity records the identity (`pid@host`) of the worker that ran it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from infra import processes
from infra.history import event_time
from tests.faults.next_version import NEXT_PATCH
from tests.faults.report import sized
from tests.faults.stack import POLICY, Stack, fast_pack

DEPLOY_POLICY = "vip-deploy"
FIRST_PAGE, SECOND_PAGE = 4, max(20, sized(20, 60))  # seconds after opening; after the first page
DRAIN = 25.0  # the worker's graceful_shutdown_timeout (20 s) and some


class DeployStack(Stack):
    async def start(self) -> DeployStack:
        fast_pack(self.tmp)  # the suite's fast pack, with only its clocks changed
        text = (
            (self.tmp / f"{POLICY}.yaml")
            .read_text()
            .replace(f"name: {POLICY}", f"name: {DEPLOY_POLICY}", 1)
        )
        text = text.replace("duration: 4s", f"duration: {FIRST_PAGE}s", 1)
        text = text.replace("after: 3s,", f"after: {SECOND_PAGE}s,", 1)
        (self.tmp / f"{DEPLOY_POLICY}.yaml").write_text(text)
        await super().start()
        return self

    def env(self) -> dict[str, str]:
        return super().env() | {"DEFAULT_POLICY": DEPLOY_POLICY}

    async def open_tickets(
        self, conv_ids: list[int], concurrency: int = 4, created_at: int | None = None
    ) -> list[str]:
        """Paced at 4 webhooks at a time: at full scale a burst of 16 beside
        hundreds of pages due at once got answers from the dev server after
        the bridge's 2-second budget (503s, counted as lost tickets)."""
        return await super().open_tickets(conv_ids, concurrency, created_at)

    async def deploy(self, name: str, mode: str, timeout: float = 60.0) -> None:
        """Start a worker of the next version (`tests.faults.next_worker <mode>`)
        beside the running ones; return once it polls the task queue."""
        await self._start(
            name, [sys.executable, "-m", "tests.faults.next_worker", mode], self.env()
        )
        deadline = time.monotonic() + timeout
        while self.identity(name) not in await self.pollers():
            if not self.children[name].alive or time.monotonic() > deadline:
                raise AssertionError(
                    f"worker {name} is not polling:\n{self.children[name].log()[-3000:]}"
                )
            await asyncio.sleep(0.2)

    async def retire(self, name: str) -> float:
        """SIGTERM a worker and wait for it to drain and exit; the seconds it took."""
        t0 = time.monotonic()
        await processes.terminate(self.children[name].process, name, timeout=DRAIN)
        return time.monotonic() - t0

    def identity(self, name: str) -> str:
        """The worker's Temporal identity (the SDK's default: pid@host) without the host."""
        return f"{self.children[name].process.pid}@"

    async def pollers(self) -> set[str]:
        """Identities (pid@) seen polling the ticket queue for workflow tasks
        (the server keeps them for minutes)."""
        resp = await self.client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=self.client.namespace,
                task_queue=TaskQueue(name=self.queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
        return {p.identity.split("@", 1)[0] + "@" for p in resp.pollers}

    async def histories(self, wids: list[str]) -> dict[str, list[HistoryEvent]]:
        return {
            w: list((await self.client.get_workflow_handle(w).fetch_history()).events) for w in wids
        }


# ------------------------------------------------------------ history readers


def took_new_path(events: list[HistoryEvent]) -> bool:
    """The run recorded the next version's patch marker."""
    return any(
        e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and NEXT_PATCH.encode() in e.marker_recorded_event_attributes.SerializeToString()
        for e in events
    )


def task_failures(events: list[HistoryEvent]) -> int:
    """Workflow tasks that failed (a non-determinism error is one)."""
    return sum(1 for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)


def task_workers(events: list[HistoryEvent]) -> list[str]:
    """The identity (pid@) of the worker that completed each workflow task, in order."""
    return [
        e.workflow_task_completed_event_attributes.identity.split("@", 1)[0] + "@"
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ]


@dataclass
class Drained:
    finished: int = 0  # activities the retiring worker ran that completed after its SIGTERM
    retried: int = 0  # activities (any worker's) that needed another attempt


def drained(events: list[HistoryEvent], identity: str, sigterm_at: float, into: Drained) -> None:
    """Count, in one history, the regular activities `identity` ran (a
    retiring worker polls for none after SIGTERM) that completed after
    `sigterm_at` (epoch seconds), and the activities retried."""
    started = {
        e.event_id: e.activity_task_started_event_attributes
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    }
    into.retried += sum(1 for a in started.values() if a.attempt > 1)
    for e in events:
        if (
            e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
            and (at := event_time(e)) is not None
            and at.timestamp() >= sigterm_at
        ):
            ran = started.get(e.activity_task_completed_event_attributes.started_event_id)
            into.finished += ran is not None and ran.identity.startswith(identity)
