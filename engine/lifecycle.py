"""Where the ticket is in its life, and who owns it.

Stages (open, acknowledged, escalated, resolved, closed, or a pack's own)
move on events and on `stage` steps; each move leaves a marker and, when
the pack says so, is mirrored to a Chatwoot custom attribute. Tickets
started before the `event-stage-markers` patch move silently on events
(the `event_stage_markers` flag). Closing is final: clocks stop, the ladder
empties (audit rows excepted), pages are resolved. Assignment changes the
owner (keeping the previous one for `target: previous_owner`) and tells
Chatwoot who it is. A ticket in shadow mode goes live once, with its instant
(engine/shadow.py).
"""

from __future__ import annotations

from datetime import datetime

from engine.channels import Channels
from engine.context import Rejected, TicketContext
from engine.pages import Pages
from engine.ticket_ids import short_id
from models.actions import Action
from models.timezones import local_time


class Lifecycle:
    def __init__(self, ctx: TicketContext, pages: Pages) -> None:
        self.ctx = ctx
        self.pages = pages
        self.channels = Channels(ctx)

    def said(self, what: str, by: str | None, at: datetime) -> str:
        """`Acknowledged by Lola at 03:14 PDT (UTC-07:00)`: what a kept-current post says."""
        who = f" by {self.ctx.name(by)}" if by else ""
        return f"{what}{who} at {local_time(at, self.ctx.policy.timezone, '%H:%M')}"

    def acknowledge(self, by: str, now: datetime) -> list[Action]:
        """The first acknowledgement (explicit, or an agent's reply); later ones do nothing."""
        c, s = self.ctx, self.ctx.state
        if s.acknowledged_at is not None:
            return []
        s.acknowledged_at, s.acknowledged_by = now, by
        actions = []
        if s.stage == "open" and "acknowledged" in c.policy.stages:
            actions = self.event_stage("acknowledged", now, "ticket")
        c.log(now, "ticket", "acknowledged", by, f"Acknowledged by {c.name(by)}")
        actions += self.channels.updated(self.said("Acknowledged", by, now), now)
        return actions + c.reactor.emit("acknowledged", now, {"by": by})

    def resolve(self, by: str, resolution: str, now: datetime) -> list[Action]:
        c, s = self.ctx, self.ctx.state
        if s.stage == "resolved":
            return []  # a repeat (e.g. Chatwoot echoing a status ticketflow set): nothing to do
        if s.stage == "closed":
            raise Rejected("ticket is already closed")
        s.resolved_at, s.resolution = now, resolution or None
        actions = self.event_stage("resolved", now, "ticket")
        actions.append(
            c.marker(
                "ticket.resolved", now, f"Resolved by {c.name(by)}", by, {"resolution": resolution}
            )
        )
        actions += self.channels.updated(self.said("Resolved", by, now), now, done=True)
        return actions + c.reactor.emit("resolved", now, {"by": by, "resolution": resolution})

    def reopen(self, by: str | None, now: datetime) -> list[Action]:
        c, s = self.ctx, self.ctx.state
        if s.stage == "closed":
            raise Rejected("a closed ticket cannot be reopened")
        if s.stage != "resolved":
            return []  # already open (e.g. Chatwoot echoing a reopen ticketflow did)
        s.resolved_at = None
        actions = self.event_stage("open", now, "ticket")
        actions.append(c.marker("ticket.reopened", now, "Reopened", by))
        return actions + c.reactor.emit("reopened", now, {"by": by})

    def go_live(self, why: str, seen_at: datetime | None, now: datetime) -> list[Action]:
        """Shadow mode ends: what the ticket decides from `now` on is sent. A
        live ticket stays live (a repeat does nothing)."""
        c, s = self.ctx, self.ctx.state
        if s.shadow is None:
            return []
        was, s.shadow, s.live_at = s.shadow, None, now
        seen = f", seen at {c.local(seen_at)}" if seen_at is not None and seen_at != now else ""
        summary = f"Live: shadow mode ended ({why or 'settings changed'}{seen})"[:300]
        c.log(now, "ticket", "live", None, summary)
        params = {"was": was, "why": why, "seen_at": seen_at.isoformat() if seen_at else None}
        return [c.marker("ticket.live", now, summary, None, params)]

    def assign(self, to: str, at: datetime, summary: str, source: str) -> list[Action]:
        c, s = self.ctx, self.ctx.state
        party = c.policy.party(to)
        if to != s.owner:
            s.previous_owner, s.owner = s.owner, to
        params = {"agent_id": party.chatwoot_agent_id} if party and party.chatwoot_agent_id else {}
        if party and party.chatwoot_team_id and not params:
            params = {"team_id": party.chatwoot_team_id}
        c.log(at, source, "assign", to, summary)
        actions = [c.action("chatwoot.assign", at, summary, to, params)] if params else []
        return actions + c.reactor.emit("assigned", at, {"target": to})

    def event_stage(self, stage: str, at: datetime, source: str) -> list[Action]:
        """A stage change an event makes (silent for tickets started before
        the `event-stage-markers` patch)."""
        if self.ctx.event_stage_markers:
            return self.set_stage(stage, at, source)
        self.ctx.state.stage = stage
        return []

    def set_stage(self, stage: str, at: datetime, source: str) -> list[Action]:
        c, s = self.ctx, self.ctx.state
        if s.stage == stage:
            return []
        s.stage = stage
        c.log(at, source, "stage", None, f"Stage {stage}")
        actions = [c.marker("ticket.stage", at, f"Stage → {stage}", None, {"stage": stage})]
        attr = c.policy.mirror_stage_attribute
        if attr:
            actions.append(
                c.action(
                    "chatwoot.attributes",
                    at,
                    f"Mirror stage {stage} to Chatwoot",
                    None,
                    {"set": {attr: stage, "ticket_id": short_id(s.workflow_id)}},
                )
            )
        return actions

    def close(self, at: datetime, source: str) -> list[Action]:
        s = self.ctx.state
        if s.stage == "closed":
            return []
        actions = self.set_stage("closed", at, source)
        s.closed_at = at
        for clock in s.clocks.values():
            if clock.status in ("running", "breached", "waiting"):
                clock.status, clock.stopped_at = "stopped", at
        s.pending = [p for p in s.pending if p.step.do in ("audit",)]
        actions += self.pages.resolve(lambda p: True, at, "ticket closed")
        actions += self.channels.updated(self.said("Closed", None, at), at, done=True)
        actions.append(self.ctx.marker("ticket.closed", at, "Ticket closed", None))
        return actions
