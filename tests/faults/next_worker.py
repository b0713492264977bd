"""`ticketflow worker` running the next version of TicketWorkflow
(tests/faults/next_version.py), with its patch dormant or active:

    python -m tests.faults.next_worker dormant   # replays the new path, never starts it
    python -m tests.faults.next_worker active    # new tickets take the new path

It is the real worker (`worker.run_until_signalled`: settings, activities,
options, SIGTERM drain) given the next version's workflow class, so the
rolling-deploy scenario deploys what production would. A dormant worker runs
with WORKER_DORMANT_PATCHES naming NEXT_PATCH: the SDK's
`patch_activation_callback` then declines it for a *new* run, so a new
ticket takes the old path and records no marker. A replay never asks the
callback: a history with the marker takes the new path on either worker, one
without it the old path. That is what makes the first release safe next to
today's workers (it writes nothing they cannot replay) and the second safe
next to the first (the first replays what it writes).
"""

from __future__ import annotations

import asyncio
import sys

import worker
from infra.logging import configure_logging, configure_temporal_runtime
from infra.settings import load_settings
from tests.faults.next_version import NEXT_PATCH, NextTicketWorkflow
from workflows.ticket import TicketWorkflow


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode not in ("dormant", "active"):
        sys.exit("usage: python -m tests.faults.next_worker dormant|active")
    settings = load_settings()
    if mode == "dormant":
        settings = settings.model_copy(
            update={"worker_dormant_patches": settings.worker_dormant_patches | {NEXT_PATCH}}
        )
    configure_logging(settings.log_format, settings.log_level)
    configure_temporal_runtime()
    workflows = [NextTicketWorkflow if w is TicketWorkflow else w for w in worker.WORKFLOWS]
    asyncio.run(worker.run_until_signalled(settings, workflows))


if __name__ == "__main__":
    main()
