"""Input and output of the PagerDuty activity. The routing key is named,
never carried: it is looked up in settings inside the activity, so it
never enters workflow history."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class PagerDutyEventInput(BaseModel):
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str = Field(min_length=1, max_length=255)
    routing_key_name: str | None = None  # None: the default PAGERDUTY_ROUTING_KEY
    summary: str = Field(default="", max_length=1024)
    severity: Literal["critical", "error", "warning", "info"] = "critical"
    source: str = "ticketflow"
    custom_details: dict[str, Any] = Field(default_factory=dict)
    workflow_id: str | None = None  # for the Temporal Web UI link
    account_id: int | None = None
    conversation_id: int | None = None  # for the Chatwoot link
    at: datetime
    target: str | None = None


class PagerDutyEventResult(BaseModel):
    status: str
    dedup_key: str
