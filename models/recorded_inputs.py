"""What a ticket's engine consumed, one row of `ticket_inputs` each.

Enough to replay a ticket's life through `engine.core.TicketEngine` without
Temporal: the ticket it opened with, every signal and update it applied (its
typed payload, whether the engine refused it), every timer wake that had
something due, and the answers it got from activities, each with the exact
`now` the workflow gave the engine. Written by `audit.record_inputs`
(activities/audit.py), recorded by workflows/inputs.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from models.signals import Source


class InputRow(BaseModel):
    workflow_id: str  # the ticket's (or the handoff's) workflow id
    # A ticket started again after it closed (TicketInput.life); "" for its first life.
    life: str = ""
    seq: int = Field(ge=1)  # per workflow id and life, in the order the engine consumed them
    # open, the inbox name (customer_replied, acknowledged ...), advance,
    # recent_level_counted ...
    kind: str
    payload: dict[str, Any] = Field(default_factory=dict)  # JSON: the typed input, without `source`
    at: datetime  # the `now` the engine was given
    source: Source | None = None
    rejected: str | None = None  # the engine's reason, when it refused the input
    policy: str
    policy_version: str


class RecordInputs(BaseModel):
    rows: list[InputRow] = Field(min_length=1)


class RecordInputsResult(BaseModel):
    inserted: int  # rows written by this call (fewer on a retry: the others were there)
