"""Which patches a run has in effect, at one marker per new run.

Every `workflow.patched(id)` that is true on a new run writes two events
(a `core_patch` marker and an upsert of the `TemporalChangeVersion` search
attribute), and the SDK keeps state for both as long as the run is cached:
~7 KiB per patch id per open ticket (bench memory phase, the SDK floor
workflow with and without five patch calls: 74 -> 110 KiB). A ticket
checked four ids; with `local-lanes` five.

So a new run records one id, a *bundle*, that stands for every patch listed
in it. Bundles are checked newest first: a run finds the one it recorded
(its marker is in its history), and a run started before any bundle existed
has none, so it checks each id as it always did, in the same order, and its
history replays unchanged. A later change to a live code path adds its id
to a new bundle placed first in `BUNDLES`; the older bundles keep their
members, so the runs that recorded them keep their code paths.
"""

from __future__ import annotations

from temporalio import workflow

# Newest first. Each bundle's members are fixed once released: runs recorded them.
BUNDLES: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "patches-2026-12e",
        frozenset(
            {
                "event-stage-markers",
                "sop-event-orders",
                "batched-actions",
                "local-lanes",
                "packed-policy",
                "ticket-inputs",
                "decision-upserts",
                "background-lanes",
            }
        ),
    ),  # + side effects in lanes beside the loop, events in the order they happened
    (
        "patches-2026-12d",
        frozenset(
            {
                "event-stage-markers",
                "sop-event-orders",
                "batched-actions",
                "local-lanes",
                "packed-policy",
                "ticket-inputs",
                "decision-upserts",
            }
        ),
    ),  # + workflows/ticket.py
    (
        "patches-2026-12c",
        frozenset(
            {
                "event-stage-markers",
                "sop-event-orders",
                "batched-actions",
                "local-lanes",
                "packed-policy",
                "ticket-inputs",
            }
        ),
    ),  # + engine inputs recorded (inputs.py)
    (
        "patches-2026-12b",
        frozenset(
            {
                "event-stage-markers",
                "sop-event-orders",
                "batched-actions",
                "local-lanes",
                "packed-policy",
            }
        ),
    ),
    (
        "patches-2026-12",
        frozenset({"event-stage-markers", "sop-event-orders", "batched-actions", "local-lanes"}),
    ),
)
CURRENT = BUNDLES[0][0]  # the bundle a new run records: the newest


def patches_in_effect(*ids: str) -> frozenset[str]:
    """The ids among `ids` that this run has: those of the bundle it
    recorded, else (a run older than every bundle) each as
    `workflow.patched` says, in order."""
    for bundle, members in BUNDLES:
        if workflow.patched(bundle):
            found = frozenset(ids) & members
            # The bundle's own set when the caller asked for all of it: one object for every
            # run, not a copy each (a workflow's `run` frame holds it for the ticket's life).
            return members if found == members else found
    return frozenset(i for i in ids if workflow.patched(i))
