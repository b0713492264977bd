"""The one route table: every action kind the engine can decide has a lane
and an executor, the older batched path groups as it always did, and the
worker registers every activity the table names (and refuses to start
without one)."""

from __future__ import annotations

from typing import get_args

import httpx
import pytest

from infra.settings import load_settings
from models.actions import MARKERS, Action, ActionKind
from worker import build_activities
from workflows.batched import _lane
from workflows.lanes import LANE_NAMES, lane_of
from workflows.routes import BARRIERS, ROUTES, activity_name, routed_activity_names


def _action(kind: str) -> Action:
    # Unvalidated on purpose: the unknown kind too.
    return Action.model_construct(kind=kind, key="k", summary="s", params={}, at=None)  # type: ignore[arg-type]


def test_every_action_kind_has_a_route_and_nothing_else_does():
    assert set(ROUTES) == set(get_args(ActionKind))
    for kind, r in ROUTES.items():
        assert r.lane in LANE_NAMES, kind
        assert r.activity is not None or r.lane == "handoff", kind


def test_lanes_and_batches_as_before():
    """The lanes beside the loop and the batched path's groups (old histories
    replay against the latter, so it must not move)."""
    assert {k for k in ROUTES if lane_of(_action(k)) == "postgres"} == (
        MARKERS | {k for k in ROUTES if k.startswith("audit.")} | {"query.recent_level"}
    )
    assert {k for k in ROUTES if lane_of(_action(k)) == "handoff"} == {
        "handoff.start",
        "handoff.signal",
        "handoff.page",
    }
    assert BARRIERS == {"handoff.start", "handoff.signal", "handoff.page", "query.recent_level"}
    for kind in set(ROUTES) - BARRIERS:
        group = _lane(_action(kind))
        own_lane = ("chatwoot.", "pagerduty.", "slack.", "email.")
        expected = kind.split(".")[0] if kind.startswith(own_lane) else "audit"
        assert group == expected, kind


def test_slack_and_email_have_lanes_of_their_own():
    """A Slack outage holds neither the pages nor Chatwoot; a post runs before its updates."""
    assert {k for k in ROUTES if lane_of(_action(k)) == "slack"} == {"slack.post", "slack.update"}
    assert {k for k in ROUTES if lane_of(_action(k)) == "email"} == {"email.send"}


def test_an_unknown_kind_is_named():
    with pytest.raises(ValueError, match=r"no route for action kind 'sms\.send'"):
        lane_of(_action("sms.send"))


async def test_the_worker_registers_every_routed_activity(monkeypatch, tmp_path):
    monkeypatch.setenv("POLICIES_DIR", str(tmp_path))
    settings = load_settings()
    async with httpx.AsyncClient() as http:
        registered = build_activities(settings, http, None, None)
    assert routed_activity_names() <= {activity_name(fn) for fn in registered}


async def test_a_worker_missing_a_routed_activity_does_not_start(monkeypatch, tmp_path):
    monkeypatch.setenv("POLICIES_DIR", str(tmp_path))
    monkeypatch.setattr("worker.audit_activities", lambda pool: [])
    async with httpx.AsyncClient() as http:
        with pytest.raises(RuntimeError, match=r"does not register .*audit\.record_ticket_event"):
            build_activities(load_settings(), http, None, None)
