"""A new ticket records one patch marker (workflows/versions.py).

Each `workflow.patched` id a new run records costs two history events and
~7 KiB of the cached run's memory; `CURRENT` stands for all of them. A run
recorded before `CURRENT` still replays: test_replay.py runs the saved
`batched_*`/`local_*` histories (one marker per id), the `bundled_*` ones
(the oldest bundle, `patches-2026-12`), the `packed_*` ones
(`patches-2026-12b`), the `inputs_*` ones (`patches-2026-12c`) and the
`upserts_*` ones (`CURRENT`).
"""

from __future__ import annotations

import base64
import itertools
import json
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType

from tests.helpers import eventually, start
from workflows.ticket import TicketWorkflow
from workflows.versions import BUNDLES, CURRENT, Patch

HISTORIES = Path(__file__).parent / "histories"


def _patch_ids(events) -> list[str]:
    ids = []
    for ev in events:
        if (
            ev.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and ev.marker_recorded_event_attributes.marker_name == "core_patch"
        ):
            data = ev.marker_recorded_event_attributes.details["patch-data"].payloads[0].data
            ids.append(json.loads(data)["id"])
    return ids


async def test_a_new_ticket_records_one_patch_marker(ts_env, ticket_worker, cleanup, task_queue):
    h = await start(ts_env, task_queue, cleanup)
    assert _patch_ids((await h.fetch_history()).events) == [CURRENT]


def _saved_patch_ids(name: str) -> list[str]:
    runs = json.loads((HISTORIES / name).read_text())
    return [
        json.loads(
            base64.b64decode(
                e["markerRecordedEventAttributes"]["details"]["patch-data"]["payloads"][0]["data"]
            )
        )["id"]
        for e in runs[0]["history"]["events"]
        if e["eventType"] == "EVENT_TYPE_MARKER_RECORDED"
        and e["markerRecordedEventAttributes"]["markerName"] == "core_patch"
    ]


def test_older_histories_with_one_marker_per_patch_are_kept_for_replay():
    assert _saved_patch_ids("local_vip_2_lola_paged_and_acknowledges.json") == [
        "event-stage-markers",
        "sop-event-orders",
        "batched-actions",
        "local-lanes",
    ]


def test_each_bundle_has_saved_histories_and_keeps_the_ids_of_the_one_before():
    assert _saved_patch_ids("held_vip_2_lola_paged_and_acknowledges.json") == [CURRENT]
    assert _saved_patch_ids("adopted_bridge_start.json") == [CURRENT]  # its history read too
    assert _saved_patch_ids("lanes_vip_2_lola_paged_and_acknowledges.json") == ["patches-2026-12e"]
    assert _saved_patch_ids("upserts_vip_2_lola_paged_and_acknowledges.json") == [
        "patches-2026-12d"
    ]
    assert _saved_patch_ids("inputs_vip_2_lola_paged_and_acknowledges.json") == ["patches-2026-12c"]
    assert _saved_patch_ids("packed_vip_2_lola_paged_and_acknowledges.json") == ["patches-2026-12b"]
    assert _saved_patch_ids("bundled_vip_2_lola_paged_and_acknowledges.json") == ["patches-2026-12"]
    for (_, newer), (_, older) in itertools.pairwise(BUNDLES):
        assert older < newer  # a newer bundle only adds: the older one's code paths stay on


def test_bundles_hold_only_declared_patches_with_their_released_members():
    """Patch ids live in one enum and bundles are built from it: a misspelt id
    cannot sit in a bundle, and each released bundle keeps exactly its members."""
    assert all(isinstance(p, Patch) for _, members in BUNDLES for p in members)
    assert dict(BUNDLES)["patches-2026-12d"] == {
        "event-stage-markers",
        "sop-event-orders",
        "batched-actions",
        "local-lanes",
        "packed-policy",
        "ticket-inputs",
        "decision-upserts",
    }
    assert set(Patch) - dict(BUNDLES)[CURRENT] == {Patch.AUDIT_FAILED_ACTIONS}  # checked alone
    with pytest.raises(ValueError):
        Patch("background-lane")


async def test_a_new_ticket_records_its_policy_pack_packed(
    ts_env, ticket_worker, cleanup, task_queue
):
    """The pack's ~24 KB of JSON was most of a new ticket's history."""
    h = await start(ts_env, task_queue, cleanup)
    await eventually(lambda: h.query(TicketWorkflow.status), lambda s: s.stage != "starting")
    markers = [
        e.marker_recorded_event_attributes
        for e in (await h.fetch_history()).events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    loads = [m for m in markers if b"policy.load" in m.details["data"].payloads[0].data]
    assert len(loads) == 1 and b"policy.load_packed" in loads[0].details["data"].payloads[0].data
    assert loads[0].ByteSize() < 8_000, loads[0].ByteSize()
