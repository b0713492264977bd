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

Every patch id is a member of `Patch`, defined here and nowhere else, and
the bundles are built from those members: a misspelt id is an error when
the module loads, never a code path silently turned off.
"""

from __future__ import annotations

from enum import StrEnum

from temporalio import workflow


class Patch(StrEnum):
    """Each guards one change to a live ticket's (or handoff's) code path."""

    EVENT_STAGE_MARKERS = "event-stage-markers"  # stage changes audited as markers
    SOP_EVENT_ORDERS = "sop-event-orders"  # gated clocks, condition_met rules, on_start, catch-up
    BATCHED_ACTIONS = "batched-actions"  # a decision's actions run concurrently, batched per system
    LOCAL_LANES = "local-lanes"  # the PagerDuty and audit lanes run as local activities
    PACKED_POLICY = "packed-policy"  # the pack loads compressed (models/policy_io.PackedPolicy)
    TICKET_INPUTS = "ticket-inputs"  # the ticket and its handoffs record their engine inputs
    DECISION_UPSERTS = "decision-upserts"  # search attributes upserted in the deciding task
    BACKGROUND_LANES = "background-lanes"  # side effects in lanes beside the loop, events in order
    SHADOW_MODE = "shadow-mode"  # a ticket in shadow asks the worker before each decision
    CHAT_CHANNELS = "chat-channels"  # Slack posts kept current on ack, take and resolve
    HELD_TIMERS = "held-timers"  # timers armed from when a task held by local activities ends
    ADOPT_AT_OPENING = "adopt-at-opening"  # a bridge-started old conversation reads its history
    AUDIT_FAILED_ACTIONS = "audit-failed-actions"  # a failed action gets an audit row (unbundled)


# Each release's bundle: the one before it plus what it added. Oldest first; fixed once
# released, since runs recorded them.
_RELEASES: tuple[tuple[str, tuple[Patch, ...]], ...] = (
    (
        "patches-2026-12",
        (
            Patch.EVENT_STAGE_MARKERS,
            Patch.SOP_EVENT_ORDERS,
            Patch.BATCHED_ACTIONS,
            Patch.LOCAL_LANES,
        ),
    ),
    ("patches-2026-12b", (Patch.PACKED_POLICY,)),
    ("patches-2026-12c", (Patch.TICKET_INPUTS,)),
    ("patches-2026-12d", (Patch.DECISION_UPSERTS,)),
    ("patches-2026-12e", (Patch.BACKGROUND_LANES, Patch.SHADOW_MODE, Patch.CHAT_CHANNELS)),
    ("patches-2026-12f", (Patch.HELD_TIMERS, Patch.ADOPT_AT_OPENING)),
)


def _bundles() -> tuple[tuple[str, frozenset[Patch]], ...]:
    built: list[tuple[str, frozenset[Patch]]] = []
    members: frozenset[Patch] = frozenset()
    for name, added in _RELEASES:
        members = members | frozenset(added)
        built.append((name, members))
    return tuple(reversed(built))


# Newest first, each with every patch of the releases up to it.
BUNDLES: tuple[tuple[str, frozenset[Patch]], ...] = _bundles()
CURRENT = BUNDLES[0][0]  # the bundle a new run records: the newest


def patches_in_effect(*ids: Patch) -> frozenset[Patch]:
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
