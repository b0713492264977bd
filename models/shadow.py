"""Shadow mode: which tickets run the whole SOP but send nothing out.

A ticket in shadow decides everything a live one does (clocks, breaches,
the ladder, owners, levels, audit rows), but every Chatwoot write and every
PagerDuty call it decides is withheld: recorded as a `shadow.withheld`
audit row saying what would have been sent ("Would page Lola Daniels: ...")
instead of being carried out (engine/shadow.py).

Which tickets: the worker's settings `SHADOW_POLICIES` (pack names) and
`SHADOW_INBOXES` (Chatwoot inbox ids), as a `ShadowScope`. A new ticket
learns its mode with its pack (`policy.load_packed`); a shadow ticket asks
again (`policy.mode`) before each decision, and the first answer "live" is
applied as a `WentLive` event with its instant, so the next breach pages.
Live is final for a ticket: putting its pack back in shadow changes new
tickets only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, Field


@dataclass
class ShadowScope:
    """The packs and inboxes whose tickets run in shadow (a worker's settings)."""

    policies: set[str] = field(default_factory=set)
    inboxes: set[int] = field(default_factory=set)

    def why(self, policy: str, inbox_id: int | None) -> str | None:
        """Why a ticket of this pack and inbox runs in shadow; None: it runs live."""
        if policy in self.policies:
            return f"SHADOW_POLICIES names {policy}"
        if inbox_id is not None and inbox_id in self.inboxes:
            return f"SHADOW_INBOXES names inbox {inbox_id}"
        return None


class ModeQuery(BaseModel):
    """`policy.mode`'s input: the ticket's pack and inbox."""

    policy: str = Field(min_length=1)
    inbox_id: int | None = None


class TicketMode(BaseModel):
    """`policy.mode`'s answer: why the ticket runs in shadow, or None (live)."""

    shadow: str | None = None
