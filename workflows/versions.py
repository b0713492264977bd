"""Which patches a run has in effect, at one marker per new run.

Every `workflow.patched(id)` that is true on a new run writes two events
(a `core_patch` marker and an upsert of the `TemporalChangeVersion` search
attribute), and the SDK keeps state for both as long as the run is cached:
~7 KiB per patch id per open ticket (bench memory phase, the SDK floor
workflow with and without five patch calls: 74 -> 110 KiB). A ticket
checked four ids; with `local-lanes` five.

So a new run records one id, `CURRENT`, that stands for every patch listed
with it. A run started before `CURRENT` existed has no such marker: it
checks each id as it always did, in the same order, so its history replays
unchanged. A later change to a live code path checks its own id after this
call, as usual; folding it into a new bundle means checking the new bundle
first, then this one, then each id (a run must find the marker it recorded).
"""

from __future__ import annotations

from temporalio import workflow

CURRENT = "patches-2026-12"  # stands for every id passed with it (issue 9)


def patches_in_effect(*ids: str) -> frozenset[str]:
    """The ids among `ids` that this run has: all of them on a run that
    recorded `CURRENT`, else each as `workflow.patched` says, in order."""
    if workflow.patched(CURRENT):
        return frozenset(ids)
    return frozenset(i for i in ids if workflow.patched(i))
