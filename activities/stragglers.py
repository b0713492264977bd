"""Let an earlier attempt's request land before a retry checks for it.

Chatwoot's API has no idempotency key: a message POST that the server is
slow to process (queued behind other requests) can land *after* the client
gave up on it. The retry then looks for its own earlier message by its
action key, finds nothing yet, and posts a second copy; the straggler
lands a second later. The fault suite caught exactly that (Chatwoot hanging
12 s on 30% of calls, client timeout 10 s: 2 duplicate customer messages
in 15 tickets).

So a retry first waits until `STRAGGLER_WINDOW` after the moment it was
scheduled: the earlier request was sent at least the client timeout plus
the retry backoff before that moment, so it has had that long plus the
window to land before the retry looks. The window must fit inside the
attempt's start-to-close timeout together with the look-up and the post
(30 s against two 10 s HTTP timeouts), so stragglers later than ~19 s after
they were sent can still double; they are rarer than the client timeout by
far. Only retries wait; a first attempt is never delayed.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio import activity

STRAGGLER_WINDOW = timedelta(seconds=8)


async def let_earlier_attempt_land(window: timedelta = STRAGGLER_WINDOW) -> None:
    info = activity.info()
    if info.attempt <= 1:
        return
    scheduled = info.current_attempt_scheduled_time
    if scheduled.tzinfo is None:
        scheduled = scheduled.replace(tzinfo=UTC)
    # Capped at the window: a server clock ahead of ours (or a time-skipping
    # test server) must not turn the wait into a long sleep.
    delay = min((scheduled + window - datetime.now(UTC)).total_seconds(), window.total_seconds())
    if delay > 0:
        await asyncio.sleep(delay)
