"""The replay-equals-reality check the end-to-end and fault suites run over
their tickets (see tests/test_replay_reality.py): every ticket's recorded
inputs, replayed against the pack content it ran, decide its audit trail
action for action and instant for instant.

Inputs and audit rows are written beside each ticket's loop, a moment apart,
so the check waits (up to `timeout`) for them to agree before it fails."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from dryrun.whatif import replay_vs_reality


async def replay_differences(dsn: str, wids: list[str], timeout: float = 20.0) -> tuple[int, list]:
    """(tickets replayed, differences), once they agree or the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        conn = await asyncpg.connect(dsn)
        try:
            replayed, differences = await replay_vs_reality(conn, wids)
        finally:
            await conn.close()
        if not differences or time.monotonic() > deadline:
            return replayed, differences
        await asyncio.sleep(0.5)


async def assert_replay_equals_reality(dsn: str, wids: list[str], timeout: float = 20.0) -> int:
    replayed, differences = await replay_differences(dsn, wids, timeout)
    assert not differences, "\n".join(f"{d.workflow_id} {d.key} {d.what}" for d in differences)
    return replayed
