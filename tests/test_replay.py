"""Replay saved workflow histories against today's workflow code.

A code change that would break running tickets (a new activity call, a
reordered timer) fails here; such a change must go behind
`workflow.patched`. Histories are recorded by `tests/histories/record.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.handoff import HandoffWorkflow
from workflows.ticket import TicketWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_saved_histories():
    assert len(HISTORIES) >= 3


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_saved_histories_replay(path: Path):
    replayer = Replayer(
        workflows=[TicketWorkflow, HandoffWorkflow], data_converter=pydantic_data_converter
    )
    for item in json.loads(path.read_text()):
        history = WorkflowHistory.from_json(item["workflow_id"], item["history"])
        assert len(history.events) > 5
        await replayer.replay_workflow(history)  # raises on nondeterminism
