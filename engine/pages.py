"""PagerDuty pages the ticket raised, and what PagerDuty says about them.

A page is kept in state by its dedup key so it can be resolved when its
clock is satisfied or the ticket closes, and so PagerDuty's word (a page
acknowledged or resolved by the person paged) stops the ladder that raised
it while the SLA's breach stays on record. A page raised by a handoff
belongs to the handoff workflow: its update is forwarded there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from engine.context import Rejected, TicketContext
from models.actions import Action
from models.signals import PageUpdateStatus
from models.state import PageState


class Pages:
    def __init__(self, ctx: TicketContext) -> None:
        self.ctx = ctx

    def resolve(self, which: Callable[[PageState], bool], at: datetime, why: str) -> list[Action]:
        """Resolve the open pages `which` picks."""
        c = self.ctx
        actions = []
        for page in c.state.pages.values():
            if page.status != "resolved" and which(page):
                page.status = "resolved"
                if page.withheld and not c.shadow:
                    # Decided in shadow mode, never sent: nothing to resolve in PagerDuty.
                    c.log(
                        at,
                        page.source,
                        "pagerduty.resolve",
                        page.target,
                        f"Page to {c.name(page.target)} (withheld in shadow mode) closed",
                    )
                    continue
                target = c.policy.party(page.target)
                actions.append(
                    c.action(
                        "pagerduty.resolve",
                        at,
                        f"Resolve page to {c.name(page.target)}: {why}",
                        page.target,
                        {
                            "dedup_key": page.dedup_key,
                            "routing_key_name": target.pagerduty if target else None,
                        },
                    )
                )
                c.log(
                    at,
                    page.source,
                    "pagerduty.resolve",
                    page.target,
                    f"Page to {c.name(page.target)} resolved",
                )
        return actions

    def update(
        self, dedup_key: str, status: PageUpdateStatus, by: str | None, now: datetime
    ) -> list[Action]:
        """A page was acknowledged or resolved in PagerDuty: stop the ladder
        that raised it (its pending steps), keep the SLA's breach on record.
        A page raised by a handoff is forwarded to that handoff."""
        c, s = self.ctx, self.ctx.state
        page = s.pages.get(dedup_key)
        if page is None:
            h = next((h for h in s.handoffs.values() if dedup_key.startswith(h.id + ":")), None)
            if h is None:
                raise Rejected(f"no page with dedup key {dedup_key!r} on this ticket")
            return [
                c.action(
                    "handoff.page",
                    now,
                    f"PagerDuty {status} for {h.title}",
                    h.target,
                    {"handoff_id": h.id, "dedup_key": dedup_key, "status": status, "by": by},
                )
            ]
        if page.status == "resolved" or page.status == status:
            return []
        page.status = status
        before = len(s.pending)
        s.pending = [p for p in s.pending if p.source != page.source]
        c.log(
            now,
            page.source,
            f"pagerduty.{status}",
            page.target,
            f"Page to {c.name(page.target)} {status} in PagerDuty"
            + (f" by {by}" if by else "")
            + (
                f"; {before - len(s.pending)} ladder step(s) stopped"
                if before != len(s.pending)
                else ""
            ),
        )
        actions = [
            c.marker(
                "page.updated",
                now,
                f"Page to {c.name(page.target)} {status} in PagerDuty",
                page.target,
                {
                    "dedup_key": dedup_key,
                    "status": status,
                    "by": by,
                    "stopped_steps": before - len(s.pending),
                },
            )
        ]
        h = s.handoffs.get(page.source.removeprefix("handoff:"))
        if h is not None and h.status == "open":  # a handoff's start page: its target picked it up
            actions.append(
                c.action(
                    "handoff.page",
                    now,
                    f"PagerDuty {status} for {h.title}",
                    h.target,
                    {"handoff_id": h.id, "dedup_key": dedup_key, "status": status, "by": by},
                )
            )
        return actions
