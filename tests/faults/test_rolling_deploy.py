"""Fault scenario 8: a rolling deploy of a workflow change, with
tickets mid-ladder.

The change (tests/faults/next_version.py, behind `workflow.patched`) makes a
new ticket write one more audit row before it opens. Today's code cannot
replay a history that took it (checked at the end: a non-determinism error),
and during a rolling deploy old and new workers share the task queue: a
ticket's next task reaches an old worker whenever the new one that ran it
stops (a crash, a drained host, a rollback) while an old one still runs. So
the change ships in two releases, each rolled over the previous one the usual
way (start the new worker, SIGTERM the old, which drains):

1. the patch **dormant**: a new ticket takes the old path and records no
   marker, so today's workers never get a history they cannot replay;
2. the patch **active**: new tickets take the new path. A worker of release 1
   replays those histories (a replay follows the ticket's own marker; only a
   new run asks whether to activate the patch), so release 2 can roll out
   beside release 1 and roll back to it: the scenario ends with that
   rollback, and the tickets that took the new path go on on release 1.

Invariant: no ticket lost or duplicated (opened before, during and after the
deploy), no failed workflow task (no non-determinism error) in any history or
worker log; tickets paged once when today's worker had stopped go on with
their ladder (a worker of the next version pages them again); tickets opened
after the deploy take the new path and the earlier ones do not; each retired
worker drains within its graceful-shutdown timeout, the Chatwoot calls it had
in flight finishing there, and exits 0.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.faults.deploy import (
    DeployStack,
    Drained,
    drained,
    task_failures,
    task_workers,
    took_new_path,
)
from tests.faults.invariants import ids, invariants, wait_settled
from tests.faults.next_version import NEXT_ACTION, NextTicketWorkflow
from tests.faults.report import Row, record, sized
from tests.faults.stack import until
from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

pytestmark = pytest.mark.faults
# seconds Chatwoot holds its answers back while today's worker is retired (the client waits 10)
SLOW = 8.0


@pytest.fixture(scope="module")
async def stack():
    async with contextlib.AsyncExitStack() as cleanup:
        s = DeployStack(Path(tempfile.mkdtemp(prefix="ticketflow-deploy-")))
        cleanup.push_async_callback(s.stop)
        yield await s.start()


async def _paged(stack: DeployStack, wids: list[str], n: int) -> bool:
    pages = await stack.pages_by_ticket(wids)
    return all(pages[w] >= n for w in wids)


async def _opened(stack: DeployStack, wids: list[str]) -> bool:
    opened = await stack.audit_count(wids, "ticket.opened")
    return all(opened[w] >= 1 for w in wids)


async def _chatwoot_reached(stack: DeployStack, wids: list[str]) -> bool:
    """Every ticket's first Chatwoot call was carried out (its answer may be held back)."""
    convs = {f"/conversations/{w.rsplit('-', 1)[1]}/" for w in wids}
    return convs <= {p for c in await stack.calls("chatwoot") for p in convs if p in c["path"]}


async def _replay_failure(stack: DeployStack, workflow_class, wid: str) -> Exception | None:
    history = await stack.client.get_workflow_handle(wid).fetch_history()
    replayer = Replayer(
        workflows=[workflow_class, HandoffWorkflow], data_converter=pydantic_data_converter
    )
    return (await replayer.replay_workflow(history, raise_on_replay_failure=False)).replay_failure


async def test_8_rolling_deploy_of_a_patched_change(stack: DeployStack):
    n = sized(8, 100)
    t0 = time.monotonic()
    before = await stack.open_tickets(ids(700_001, n))  # on today's code, paged once: mid-ladder
    assert len(before) == n and await until(lambda: _paged(stack, before, 1), 60), "no first page"

    # Release 1, patch dormant, over today's worker, which gets SIGTERM with the
    # first Chatwoot calls of the tickets opened just before in flight.
    await stack.set_faults("chatwoot", slow_rate=1.0, slow_seconds=SLOW)
    inflight = await stack.open_tickets(ids(710_001, n))
    assert await until(lambda: _chatwoot_reached(stack, inflight), 30), (
        "Chatwoot calls did not start"
    )
    await stack.set_faults("chatwoot", slow_rate=0.0)
    await stack.deploy("dormant", "dormant")
    today, sigterm_today = stack.identity("worker"), time.time()
    drain_today = await stack.retire("worker")
    paged_when_gone = await stack.pages_by_ticket(before)  # a page to come: a later worker sends it

    # Release 2, patch active, over release 1; tickets open while both run.
    await stack.deploy("active", "active")
    during = await stack.open_tickets(ids(720_001, n))
    assert await until(lambda: _opened(stack, during), 60), (
        "tickets opened in the overlap did not open"
    )
    drain_dormant = await stack.retire("dormant")
    deployed = time.monotonic() - t0
    after = await stack.open_tickets(ids(730_001, n))  # only release 2 runs: the new path
    assert await until(lambda: _opened(stack, after), 60), (
        "tickets opened after the deploy did not open"
    )

    # Release 2 rolled back to release 1: its tickets' next tasks reach a worker that
    # never activates the patch.
    await stack.deploy("rollback", "dormant")
    await stack.retire("active")
    paged_at_rollback = await stack.pages_by_ticket(after)

    everyone = before + inflight + during + after
    pending = await wait_settled(stack, everyone, timeout=120)
    inv = await invariants(stack, everyone, 4 * n)
    hist = await stack.histories(everyone)
    runs = Counter(
        [w.id async for w in stack.client.list_workflows(f"TaskQueue = '{stack.queue}'")]
    )
    failures = sum(task_failures(events) for events in hist.values())
    nde_logged = stack.logs().lower().count("nondetermin")
    new_path = {
        w for w, events in hist.items() if took_new_path(events)
    }  # the marker in its history ...
    rows = await stack.audit_count(everyone, NEXT_ACTION)  # ... and the row in Postgres
    active, rollback = stack.identity("active"), stack.identity("rollback")
    next_version = {stack.identity("dormant"), active, rollback}
    # Tickets mid-ladder when a worker had gone went on, on the workers that stayed.
    mid_ladder = [w for w in before if paged_when_gone[w] == 1]
    went_on = [w for w in mid_ladder if next_version & set(task_workers(hist[w]))]
    mid_ladder_new = [w for w in after if paged_at_rollback[w] < 2]
    rolled_back = [w for w in mid_ladder_new if rollback in task_workers(hist[w])]
    drain = Drained()
    for events in hist.values():
        drained(events, today, sigterm_today, drain)
    stock_replay = await _replay_failure(
        stack, TicketWorkflow, after[0]
    )  # the hazard the procedure avoids
    next_replays = [
        await _replay_failure(stack, NextTicketWorkflow, w) for w in (before[0], after[0])
    ]

    record(
        Row(
            "8 rolling deploy (patch dormant, then active), rolled back",
            f"{4 * n} tickets, 4 workers",
            inv["lost"] + sum(1 for w in everyone if runs[w] != 1),
            inv["duplicated"],
            len(pending) + inv["stuck_activities"],
            f"failed workflow tasks {failures}; new path: "
            f"opened after {len(new_path & set(after))}/{n}, "
            f"during {len(new_path & set(during))}/{n}, "
            f"before {len(new_path & set(before + inflight))}/{2 * n}; "
            f"mid-ladder tickets that went on: {len(went_on)}/{len(mid_ladder)} "
            f"on the next version, {len(rolled_back)}/{len(mid_ladder_new)} of the new path "
            f"after the rollback; drains {drain_today:.1f} s ({drain.finished} calls finished "
            f"in it) and {drain_dormant:.1f} s; activities retried {drain.retried}; "
            f"deploy {deployed:.0f} s",
        )
    )
    assert inv["lost"] == 0 and inv["duplicated"] == 0 and inv["failed"] == 0, inv
    assert not pending and inv["stuck_activities"] == 0, (pending, inv)
    assert set(runs) == set(everyone) and set(runs.values()) == {1}, (
        runs
    )  # one run per ticket, none extra
    assert failures == 0 and nde_logged == 0, (failures, nde_logged)
    assert new_path == {w for w in everyone if rows[w] == 1} and max(rows.values()) == 1, (
        new_path,
        rows,
    )
    assert set(after) <= new_path and not new_path & set(before + inflight), sorted(new_path)
    assert all(
        task_workers(hist[w])[0] == active for w in new_path
    )  # only release 2 starts the new path
    assert mid_ladder and went_on == mid_ladder, (went_on, paged_when_gone)
    assert mid_ladder_new and rolled_back == mid_ladder_new, (rolled_back, paged_at_rollback)
    assert all(stack.children[w].process.returncode == 0 for w in ("worker", "dormant", "active"))
    assert drain.finished >= 1, (
        drain
    )  # a retried call is no duplicate either: `duplicated` counts those
    assert isinstance(stock_replay, NondeterminismError), stock_replay
    assert next_replays == [None, None], next_replays
