"""The ticket decision core: (state, event, now) -> actions, next deadline.

Pure and deterministic, so the same code runs inside `TicketWorkflow`,
inside `ticketflow simulate` and under hypothesis. It never reads a clock:
callers pass `now` (the workflow's `workflow.now()` plus its offset).

The workflow opens the ticket (`open`), then applies each event
(`receive`) and each deadline due (`advance`), running the actions returned.

Deadlines are absolute instants kept in state (never a relative timer that
restarts and drifts); clocks can count business time of a named calendar.

`TicketEngine` is the only API the workflows call. It composes one module
per concern, all sharing one `TicketContext` (engine/context.py): clocks
(engine/clocks.py), the ladder and catch-up (engine/ladder.py), running a
step (engine/steps.py), facts and rules (engine/facts.py), stages and owner
(engine/lifecycle.py), pages (engine/pages.py), the ticket's handoffs
(engine/ticket_handoffs.py), and how an event and time are applied
(engine/reactions.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine.adopt import adopt
from engine.clocks import Clocks
from engine.context import Rejected, TicketContext
from engine.facts import FactsAndRules
from engine.ladder import Ladder
from engine.lifecycle import Lifecycle
from engine.pages import Pages
from engine.payloads import payload_text
from engine.reactions import Reactions
from engine.steps import StepRunner
from engine.targets import coverage_owner
from engine.template_fields import template_context
from engine.ticket_handoffs import TicketHandoffs
from engine.ticket_ids import customer_uuid, short_id
from models.actions import Action
from models.events import TicketEvent
from models.handoff import HandoffResponse, HandoffResult
from models.policy import Policy
from models.signals import (
    Acknowledged,
    AgentReplied,
    Classify,
    CustomerReplied,
    Escalate,
    PageUpdate,
    PageUpdateStatus,
    Reassign,
    Reopened,
    Resolved,
    StatusChanged,
    VipFlagChanged,
    WentLive,
)
from models.state import HandoffState, LadderEntry, RejectedSignal, TicketState
from models.ticket import Ticket

__all__ = ["Rejected", "TicketEngine", "customer_uuid", "payload_text", "short_id"]

MAX_REJECTED = 50  # rejected signals kept in state (and in status)


class _OnContext:
    """An attribute of `TicketEngine` that lives on its shared context,
    where every concern reads it; only the flags can be set."""

    def __init__(self, settable: bool = False) -> None:
        self.settable = settable

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, engine: TicketEngine | None, owner: type | None = None) -> Any:
        return self if engine is None else getattr(engine.ctx, self.name)

    def __set__(self, engine: TicketEngine, value: Any) -> None:
        if not self.settable:
            raise AttributeError(f"TicketEngine.{self.name} cannot be set")
        setattr(engine.ctx, self.name, value)


class TicketEngine:
    """One ticket's decision core: every event the workflows feed it, the
    views they show, and the checks their update validators run."""

    # Views of the shared context (see engine/context.py).
    policy = _OnContext()  # Policy
    state = _OnContext()  # TicketState
    reactive = _OnContext()
    key_base = _OnContext()  # the prefix of action keys and handoff ids
    closed = _OnContext()
    # The code path a live ticket is pinned to: the workflow sets these from
    # `workflow.patched` (see engine/context.py for what each one guards).
    event_stage_markers = _OnContext(settable=True)
    sop_orders = _OnContext(settable=True)
    chat_updates = _OnContext(settable=True)

    def __init__(self, policy: Policy, state: TicketState, *, reactive: bool = True) -> None:
        """`reactive=False` runs steps only (no clocks, no rules): what a
        handoff workflow needs to walk its own on-failure ladder."""
        self.ctx = ctx = TicketContext(policy, state, reactive=reactive)
        self.pages = Pages(ctx)
        self.lifecycle = Lifecycle(ctx, self.pages)
        self.ladder = Ladder(ctx)
        self.facts_and_rules = FactsAndRules(ctx, self.ladder)
        self.clocks = Clocks(ctx, self.ladder, self.pages)
        self.handoffs = TicketHandoffs(ctx, self.lifecycle, self.ladder)
        self.steps = StepRunner(ctx, self.lifecycle, self.pages, self.handoffs)
        self.reactions = Reactions(ctx, self.clocks, self.facts_and_rules, self.ladder, self.steps)
        ctx.bind(self.reactions)

    @classmethod
    def new(
        cls,
        policy: Policy,
        ticket: Ticket,
        workflow_id: str,
        life: str | None = None,
        shadow: str | None = None,
    ) -> TicketEngine:
        """A new ticket. `life` namespaces its keys when the conversation's
        ticket ran and closed before (see TicketInput.life); `shadow` says why
        it runs in shadow mode (engine/shadow.py), None: live."""
        key_base = f"{workflow_id}:{life}" if life else None
        state = TicketState(ticket=ticket, workflow_id=workflow_id, key_base=key_base)
        state.shadow = shadow
        return cls(policy, state)

    # ------------------------------------------------------------------ views

    def facts(
        self, extra: dict[str, Any] | None = None, at: datetime | None = None
    ) -> dict[str, Any]:
        return self.ctx.facts(extra, at)

    def template_context(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return template_context(self.ctx, extra)

    def silent(self) -> bool:
        return self.ctx.silent()

    def next_wakeup(self) -> datetime | None:
        times = [c.deadline for c in self.state.clocks.values() if c.status == "running"]
        times += [p.due for p in self.state.pending]
        return min(times) if times else None

    def next_wakeup_summary(self) -> str:
        best: tuple[datetime, str] | None = None
        for c in self.state.clocks.values():
            if c.status == "running" and (best is None or c.deadline < best[0]):
                best = (c.deadline, f"{c.title}: deadline {self.ctx.local(c.deadline)}")
        for p in self.state.pending:
            if best is None or p.due < best[0]:
                best = (p.due, self.ladder.describe(p))
        return best[1][:200] if best else "waiting for events"

    def sla_state(self) -> str:
        statuses = {c.status for c in self.state.clocks.values()}
        if "breached" in statuses:
            return "breached"
        return "running" if "running" in statuses else "ok"

    # --------------------------------------------------------------- entry points

    def open(self, now: datetime) -> list[Action]:
        """The ticket was created: classify, pick the owner, start clocks, run rules,
        then apply what Chatwoot already knew of an existing conversation.

        SLAs count from the conversation's creation in Chatwoot when known
        (a webhook delivered late, or a ticket started by reconciliation,
        must not get extra time), never from the future."""
        c, s, t = self.ctx, self.state, self.state.ticket
        wall = now
        if t.created_at is not None and t.created_at <= now:
            now = t.created_at
        now = now.astimezone(UTC)  # every instant in state is UTC; display converts
        s.opened_at = now
        s.facts.update(
            {
                "vip": t.contact.vip,
                "vip_flag": t.contact.vip,
                "founder_personal": t.contact.founder_personal,
                "customer_id": customer_uuid(t),
            }
        )
        self.facts_and_rules.classify(t.ask_type, t.labels, t.custom_attributes)
        s.owner = coverage_owner(c, now)
        actions = [
            c.marker("ticket.opened", now, f"Ticket opened, owner {c.name(s.owner)}", s.owner)
        ]
        c.wall = wall
        try:
            actions += self.reactions.emit("ticket_opened", now)
            if t.adopted is not None:  # what Chatwoot already knew (engine/adopt.py)
                actions += adopt(t.adopted, now, wall, self.advance, self.receive, self.reject)
        finally:
            c.wall = None
        return actions

    def receive(self, event: TicketEvent, now: datetime) -> list[Action]:
        """Apply one event at `now` (the instant it happened, as the workflow
        ordered it); `Rejected` when the ticket refuses it."""
        match event:
            case Acknowledged():
                return self.acknowledged(event.by, now, event.event_id)
            case AgentReplied():
                return self.agent_replied(event.by, event.substantive, now, event.event_id)
            case CustomerReplied():
                return self.customer_replied(now, event.event_id)
            case Resolved():
                return self.resolve(event.by, event.resolution, now, event.event_id)
            case Reopened():
                return self.reopen(event.by, now, event.event_id)
            case Escalate():
                e = event
                return self.escalate(e.by, e.target, e.reason, e.payload, now, e.event_id)
            case Reassign():
                return self.reassign(event.to, event.by, now, event.event_id)
            case Classify():
                e2 = event
                return self.classify(e2.ask_type, e2.labels, e2.custom_attributes, now, e2.event_id)
            case VipFlagChanged():
                return self.vip_changed(event.vip, event.by, event.why, now, event.event_id)
            case StatusChanged():
                return self.status_changed(event.status, now, event.event_id)
            case HandoffResponse():
                r = event
                return self.handoff_response(
                    r.by, r.decision, r.founder_action, r.ok, r.handoff, now, r.event_id
                )
            case PageUpdate():
                return self.page_update(
                    event.dedup_key, event.status, event.by, now, event.event_id
                )
            case HandoffResult():
                h = event
                return self.handoff_result(
                    h.handoff_id,
                    h.outcome,
                    h.by,
                    h.decision,
                    h.founder_action,
                    h.new_owner,
                    h.ladder,
                    now,
                )
            case WentLive():
                if self.ctx.seen(event.event_id):
                    return []
                return self.lifecycle.go_live(event.why, event.seen_at, now)
        raise Rejected(f"unknown event {type(event).__name__}")

    def acknowledged(self, by: str, now: datetime, event_id: str | None = None) -> list[Action]:
        if self.ctx.seen(event_id):
            return []
        self.ctx.require_open("acknowledged")
        return self.lifecycle.acknowledge(by, now)

    def agent_replied(
        self, by: str, substantive: bool, now: datetime, event_id: str | None = None
    ) -> list[Action]:
        if self.ctx.seen(event_id):
            return []
        self.ctx.require_open("agent_replied")
        actions = self.lifecycle.acknowledge(by, now)
        actions += self.reactions.emit("agent_replied", now, {"by": by})
        if substantive and self.state.first_response_at is None:
            self.state.first_response_at = now
            actions += self.reactions.emit("agent_replied_substantive", now, {"by": by})
        return actions

    def customer_replied(self, now: datetime, event_id: str | None = None) -> list[Action]:
        if self.ctx.seen(event_id):
            return []
        self.ctx.require_open("customer_replied")
        return self.reactions.emit("customer_replied", now)

    def resolve(
        self, by: str, resolution: str, now: datetime, event_id: str | None = None
    ) -> list[Action]:
        if self.ctx.seen(event_id):
            return []
        return self.lifecycle.resolve(by, resolution, now)

    def reopen(self, by: str | None, now: datetime, event_id: str | None = None) -> list[Action]:
        if self.ctx.seen(event_id):
            return []
        return self.lifecycle.reopen(by, now)

    def reassign(
        self, to: str, by: str | None, now: datetime, event_id: str | None = None
    ) -> list[Action]:
        if self.ctx.seen(event_id):
            return []
        self.ctx.require_open("reassign")
        self.check_party(to)
        actions = self.lifecycle.assign(
            to, now, f"Reassigned to {self.ctx.name(to)} by {by or 'operator'}", "operator"
        )
        said = (
            self.lifecycle.said("Taken", to, now)
            if by == to
            else self.lifecycle.said(f"Reassigned to {self.ctx.name(to)}", by, now)
        )
        return actions + self.lifecycle.channels.updated(said, now)

    def classify(
        self,
        ask_type: str | None,
        labels: list[str] | None,
        attributes: dict[str, object] | None,
        now: datetime,
        event_id: str | None = None,
    ) -> list[Action]:
        if self.ctx.seen(event_id):
            return []
        self.ctx.require_open("classify")
        if not self.facts_and_rules.reclassify(ask_type, labels, attributes):
            return []
        return self.reactions.emit("classified", now)

    def vip_changed(
        self, vip: bool, by: str, why: str, now: datetime, event_id: str | None = None
    ) -> list[Action]:
        """Setting the flag makes this ticket VIP now; removing it applies
        forward only (the SOP: the existing thread completes under VIP service)."""
        if self.ctx.seen(event_id):
            return []
        facts = self.state.facts
        if facts.get("vip_flag") == vip:
            return []
        facts["vip_flag"] = vip
        context = {"by": by, "why": why, "new_vip": vip}
        if vip:
            facts["vip"] = True
            return self.reactions.emit("vip_set", now, context)
        return self.reactions.emit("vip_removed", now, context)

    def status_changed(
        self, status: str, now: datetime, event_id: str | None = None
    ) -> list[Action]:
        if self.ctx.seen(event_id):
            return []
        if status in ("pending", "snoozed"):
            return self.reactions.emit("status_pending", now, {"status": status})
        return []

    def escalate(
        self,
        by: str,
        target: str | None,
        reason: str,
        payload: dict[str, Any],
        now: datetime,
        event_id: str | None = None,
    ) -> list[Action]:
        if self.ctx.seen(event_id):
            return []
        name, target, clean = self.check_escalation(target, reason, payload)
        return self.handoffs.start(name, target, reason, clean, by, now, "operator")

    def handoff_response(
        self,
        by: str,
        decision: str | None,
        founder_action: str | None,
        ok: bool,
        handoff: str | None,
        now: datetime,
        event_id: str | None = None,
    ) -> list[Action]:
        """Forward an acknowledgement / decision / explicit failure to the open handoff."""
        if self.ctx.seen(event_id):
            return []
        return self.handoffs.forward_response(by, decision, founder_action, ok, handoff, now)

    def handoff_result(
        self,
        handoff_id: str,
        outcome: str,
        by: str | None,
        decision: str | None,
        founder_action: str | None,
        new_owner: str | None,
        ladder: list[LadderEntry],
        now: datetime,
    ) -> list[Action]:
        """The handoff workflow reports how it ended (or a late acknowledgement)."""
        return self.handoffs.apply_result(
            handoff_id, outcome, by, decision, founder_action, new_owner, ladder, now
        )

    def page_update(
        self,
        dedup_key: str,
        status: PageUpdateStatus,
        by: str | None,
        now: datetime,
        event_id: str | None = None,
    ) -> list[Action]:
        """A page was acknowledged or resolved in PagerDuty (see engine/pages.py)."""
        if self.ctx.seen(event_id):
            return []
        return self.pages.update(dedup_key, status, by, now)

    def advance(self, now: datetime, before: datetime | None = None) -> list[Action]:
        """Fire every clock breach and ladder step due at or before now, in
        order (with `before`: only those due strictly before it)."""
        return self.reactions.advance(now, before)

    def recent_level_counted(self, level: int, count: int, now: datetime) -> list[Action]:
        """Result of a `count_recent_level` step: other tickets that reached `level`."""
        self.state.facts[f"recent_level_{level}_count"] = count
        return self.reactions.emit("level_counted", now, {"counted_level": level, "count": count})

    def record_failure(
        self, at: datetime, source: str, action: str, target: str | None, why: str
    ) -> None:
        """An action the workflow could not carry out (after its retries): kept in the ladder."""
        self.ctx.log(at, source, f"{action}.failed", target, why[:300])

    def reject(self, signal: str, reason: str, now: datetime) -> None:
        self.state.rejected.append(RejectedSignal(signal=signal, reason=reason, at=now))
        del self.state.rejected[:-MAX_REJECTED]

    # -------------------------------------------------------------- validation

    def check_party(self, pid: str) -> None:
        self.ctx.check_party(pid)

    def check_escalation(
        self, target: str | None, reason: str, payload: dict[str, Any]
    ) -> tuple[str, str, dict[str, Any]]:
        return self.handoffs.check_escalation(target, reason, payload)

    def check_handoff_response(
        self, decision: str | None, ok: bool, handoff: str | None
    ) -> HandoffState:
        """The open handoff a response is for, if the response fits its spec."""
        return self.handoffs.check_response(decision, ok, handoff)

    def open_handoff(self, name: str | None = None) -> HandoffState:
        return self.handoffs.open_handoff(name)
