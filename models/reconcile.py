"""Input and output of the reconciliation workflow and activity."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ReconcileInput(BaseModel):
    account_id: int = Field(ge=1)
    lookback_seconds: float = Field(default=6 * 3600, gt=0)  # conversations active this recently
    max_pages: int = Field(default=20, ge=1)
    # Conversations looked at per pass (each may cost a Chatwoot call, a describe,
    # a query and signals); Chatwoot lists the most recently active first.
    max_conversations: int = Field(default=200, ge=1)


class ReconcileResult(BaseModel):
    seen: int = 0  # conversations active within the lookback that were looked at
    started: int = 0  # tickets the bridge had missed
    skipped: int = 0  # conversations that could not be turned into tickets
    replies_recovered: int = 0  # agent_replied / customer_replied signals sent for lost webhooks
    statuses_recovered: int = 0  # resolved / status_changed signals sent for lost webhooks
