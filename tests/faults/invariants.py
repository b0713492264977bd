"""What every fault scenario checks from outside the processes: a ticket's
end state on the fast VIP pack (both pages raised, the auto-acknowledgement
sent, the opening audited) and the invariants (nothing lost, nothing done
twice, nothing stuck), and replay equals reality over every ticket. Shared by
test_faults.py, test_outages.py and test_rolling_deploy.py."""

from __future__ import annotations

from temporalio.client import WorkflowExecutionStatus

from tests.faults.stack import Stack, until

SETTLE = 240.0  # seconds a scenario may take to reach its end state (condition, not a sleep)


async def settled(stack: Stack, wids: list[str]) -> tuple[set[str], set[str]]:
    """(tickets in their end state, tickets not yet) — both pages raised,
    auto-ack sent, opening audited."""
    pages = await stack.pages_by_ticket(wids)
    msgs = await stack.customer_messages(wids)
    acked = {path.split("/conversations/")[1].split("/")[0] for (path, _key) in msgs}
    opened = await stack.audit_count(wids, "ticket.opened")
    done = {w for w in wids if pages[w] >= 2 and w.rsplit("-", 1)[1] in acked and opened[w] >= 1}
    return done, set(wids) - done


async def wait_settled(stack: Stack, wids: list[str], timeout: float = SETTLE) -> set[str]:
    async def check():
        return not (await settled(stack, wids))[1]

    await until(check, timeout, interval=1.0)
    return (await settled(stack, wids))[1]


async def invariants(stack: Stack, wids: list[str], accepted: int) -> dict[str, int]:
    statuses = await stack.statuses(wids)
    not_running = [w for w, s in statuses.items() if s != WorkflowExecutionStatus.RUNNING]
    opened = await stack.audit_count(wids, "ticket.opened")
    msgs = await stack.customer_messages(wids)
    dup_msgs = sum(n - 1 for n in msgs.values() if n > 1)
    dup_rows = await stack.duplicate_audit_rows(wids)
    repeated_pages = await stack.repeated_pages(wids)
    dup_opened = sum(n - 1 for n in opened.values() if n > 1)
    return {
        "lost": (accepted - len(wids)) + len(not_running) + sum(1 for w in wids if opened[w] == 0),
        "duplicated": dup_msgs + dup_rows + repeated_pages + dup_opened,
        "failed": await stack.failed_workflows(),
        "stuck_activities": await stack.stuck_activities(wids),
        "dup_msgs": dup_msgs,
        "dup_rows": dup_rows,
        "repeated_pages": repeated_pages,
    }


def ids(start: int, n: int) -> list[int]:
    return list(range(start, start + n))


async def replay_every_ticket(stack: Stack) -> tuple[int, list]:
    """Every ticket the stack ran, replayed from its recorded inputs against the
    pack it ran (tests/replay_check.py): (tickets replayed, differences from
    their audit trail)."""
    from tests.replay_check import replay_differences

    wids = [
        r["workflow_id"]
        for r in await stack.pool.fetch(
            "SELECT DISTINCT workflow_id FROM ticket_inputs"
            " WHERE position(':handoff:' in workflow_id) = 0"
        )
    ]
    return await replay_differences(stack.dsn, wids, timeout=60.0)
