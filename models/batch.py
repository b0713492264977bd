"""Inputs and outputs of the batched activities: the actions of one decision
that go to the same system, applied in one activity (one workflow task to
schedule, one to complete) instead of one activity each."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from models.audit import AuditRowInput, TicketEventRow
from models.chatwoot import (
    AssignInput,
    MergeAttributesInput,
    PostMessageInput,
    SetStatusInput,
    UpdateLabelsInput,
)


class ChatwootOp(BaseModel):
    """One Chatwoot call of a batch: `kind` names which input is set."""

    kind: Literal["message", "labels", "assign", "status", "attributes"]
    message: PostMessageInput | None = None
    labels: UpdateLabelsInput | None = None
    assign: AssignInput | None = None
    status: SetStatusInput | None = None
    attributes: MergeAttributesInput | None = None


class ChatwootBatchInput(BaseModel):
    """Applied in order (a status change stays after the message before it)."""

    ops: list[ChatwootOp] = Field(min_length=1)


class AuditBatchItem(BaseModel):
    """A `ticket_events` line (`event`) or an SOP audit-table row (`row`)."""

    event: TicketEventRow | None = None
    row: AuditRowInput | None = None


class AuditBatchInput(BaseModel):
    """Written in one transaction; each item idempotent by its own key."""

    items: list[AuditBatchItem] = Field(min_length=1)


class OpOutcome(BaseModel):
    ok: bool = True
    error: str | None = None  # why this op could not be done (retrying would not help)


class BatchResult(BaseModel):
    outcomes: list[OpOutcome]  # one per op / item, in input order
