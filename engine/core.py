"""The ticket decision core: (state, event, now) -> actions, next deadline.

Pure and deterministic, so the same code runs inside `TicketWorkflow`,
inside `ticketflow simulate` and under hypothesis. It never reads a clock:
callers pass `now` (the workflow's `workflow.now()` plus its offset).

The workflow's loop is:

    actions = engine.open(now)                 # once
    loop:
        run(actions)                           # activities, child workflows
        wait for a signal or engine.next_wakeup()
        actions = engine.<event>(..., now)  or  engine.advance(now)

Deadlines are absolute instants kept in state (never a relative timer that
restarts and drifts); clocks can count business time of a named calendar.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from engine import business_time
from engine.conditions import holds
from models.durations import human_duration
from engine.payloads import PayloadError, validate_payload
from engine.templates import render
from models.timezones import local_time
from models.actions import Action
from models.policy import ClockSpec, Policy, Step
from models.state import (ClockState, HandoffState, LadderEntry, PageState, PendingStep, RejectedSignal,
                          TicketState)
from models.ticket import Ticket

_NS = uuid.UUID("5b6f1d8e-2c1a-4c7e-9a51-7f3c0e9d4a10")  # ticketflow's uuid5 namespace
MAX_SEEN = 500
MAX_LADDER = 300
MAX_REJECTED = 50
# Events that change facts: in `starts_on` they arm a clock that was never
# armed, never one an agent already satisfied.
FACT_EVENTS = frozenset({"classified", "vip_set", "vip_removed"})
# Steps that tell people something: past `max_catch_up` they are recorded
# as missed instead of sent. Steps that keep state (assign, label, stage,
# level, audit, handoff, close ...) still run late.
NOTIFYING_STEPS = frozenset({"page", "message", "note"})


class Rejected(ValueError):
    """An event or operator action the ticket cannot accept; the message says why."""


def short_id(workflow_id: str) -> str:
    """The 8-character ticket id shown to customers (`Ticket #AB12CD34`)."""
    return uuid.uuid5(_NS, workflow_id).hex[:8].upper()


def customer_uuid(ticket: Ticket) -> str:
    """The customer's uuid: Chatwoot's `customer_id` attribute when present,
    else a stable one derived from the account and contact."""
    if ticket.contact.customer_id:
        try:
            return str(uuid.UUID(ticket.contact.customer_id))
        except ValueError:
            pass
    basis = f"{ticket.account_id}:{ticket.contact.id or ticket.contact.email or ticket.conversation_id}"
    return str(uuid.uuid5(_NS, basis))


class TicketEngine:
    def __init__(self, policy: Policy, state: TicketState, *, reactive: bool = True) -> None:
        """`reactive=False` runs steps only (no clocks, no rules): what a
        handoff workflow needs to walk its own on-failure ladder."""
        self.policy = policy
        self.state = state
        self.reactive = reactive
        # Stage changes from events (ack, escalate, resolve, reopen) record a
        # marker and mirror to Chatwoot. Tickets started before that change
        # replay without it (the workflow sets this from `workflow.patched`).
        self.event_stage_markers = True
        # Clocks armed by events and gated by conditions, `condition_met`
        # rules, handoff `on_start`, silent customer-facing clocks and
        # `max_catch_up` (see README). Tickets started before replay without.
        self.sop_orders = True
        self._depth = 0
        # The real "now" while a batch of decisions runs: steps replayed at
        # their own due instant (a breach's ladder) still know how late they are.
        self._wall: datetime | None = None

    @classmethod
    def new(cls, policy: Policy, ticket: Ticket, workflow_id: str, life: str | None = None) -> "TicketEngine":
        """A new ticket. `life` namespaces its keys when the conversation's
        ticket ran and closed before (see TicketInput.life)."""
        key_base = f"{workflow_id}:{life}" if life else None
        return cls(policy, TicketState(ticket=ticket, workflow_id=workflow_id, key_base=key_base))

    @property
    def key_base(self) -> str:
        return self.state.key_base or self.state.workflow_id

    # ------------------------------------------------------------------ views

    @property
    def closed(self) -> bool:
        return self.state.stage == "closed"

    def facts(self, extra: dict[str, Any] | None = None, at: datetime | None = None) -> dict[str, Any]:
        """The ticket's facts (plus an event's context). With `at`, also
        `open:<calendar>` for each calendar: true while it is open then."""
        s = self.state
        out = {**self.policy.facts, **s.facts, "stage": s.stage, "owner": s.owner, "level": s.level}
        if at is not None:
            out.update({f"open:{name}": business_time.is_open(cal, at) for name, cal in self.policy.calendars.items()})
        if extra:
            out.update(extra)
        return out

    def next_wakeup(self) -> datetime | None:
        times = [c.deadline for c in self.state.clocks.values() if c.status == "running"]
        times += [p.due for p in self.state.pending]
        return min(times) if times else None

    def next_wakeup_summary(self) -> str:
        best: tuple[datetime, str] | None = None
        for c in self.state.clocks.values():
            if c.status == "running" and (best is None or c.deadline < best[0]):
                best = (c.deadline, f"{c.title}: deadline {self._local(c.deadline)}")
        for p in self.state.pending:
            if best is None or p.due < best[0]:
                target = self._resolve_target(p.step, p) if p.step.target else None
                if p.step.summary:
                    what = render(p.step.summary, self.template_context({**p.context, "target": target}))
                else:
                    what = f"{p.step.do} {self._name(target) if target else (p.step.template or p.step.label or '')}"
                best = (p.due, f"{p.source} → {what.strip()}")
        return best[1][:200] if best else "waiting for events"

    def silent(self) -> bool:
        return self.policy.silent_when is not None and holds(self.policy.silent_when, self.facts())

    def sla_state(self) -> str:
        statuses = {c.status for c in self.state.clocks.values()}
        if "breached" in statuses:
            return "breached"
        return "running" if "running" in statuses else "ok"

    # --------------------------------------------------------------- entry points

    def open(self, now: datetime) -> list[Action]:
        """The ticket was created: classify, pick the owner, start clocks, run rules.

        SLAs count from the conversation's creation in Chatwoot when known
        (a webhook delivered late, or a ticket started by reconciliation,
        must not get extra time), never from the future."""
        s, t = self.state, self.state.ticket
        wall = now
        if t.created_at is not None and t.created_at <= now:
            now = t.created_at
        now = now.astimezone(timezone.utc)  # every instant in state is UTC; display converts
        s.opened_at = now
        s.facts.update({
            "vip": t.contact.vip, "vip_flag": t.contact.vip, "founder_personal": t.contact.founder_personal,
            "customer_id": customer_uuid(t),
        })
        self._classify_into_facts(t.ask_type, t.labels, t.custom_attributes)
        s.owner = self._coverage_owner(now)
        actions = [self._marker("ticket.opened", now, f"Ticket opened, owner {self._name(s.owner)}", s.owner)]
        self._wall = wall
        try:
            actions += self._emit("ticket_opened", now)
        finally:
            self._wall = None
        return actions

    def acknowledged(self, by: str, now: datetime, event_id: str | None = None) -> list[Action]:
        if self._seen(event_id):
            return []
        self._require_open("acknowledged")
        return self._ack(by, now)

    def agent_replied(self, by: str, substantive: bool, now: datetime, event_id: str | None = None) -> list[Action]:
        if self._seen(event_id):
            return []
        self._require_open("agent_replied")
        actions = self._ack(by, now)
        actions += self._emit("agent_replied", now, {"by": by})
        if substantive and self.state.first_response_at is None:
            self.state.first_response_at = now
            actions += self._emit("agent_replied_substantive", now, {"by": by})
        return actions

    def customer_replied(self, now: datetime, event_id: str | None = None) -> list[Action]:
        if self._seen(event_id):
            return []
        self._require_open("customer_replied")
        return self._emit("customer_replied", now)

    def resolve(self, by: str, resolution: str, now: datetime, event_id: str | None = None) -> list[Action]:
        if self._seen(event_id):
            return []
        if self.state.stage == "resolved":
            return []  # a repeat (e.g. Chatwoot echoing a status ticketflow set): nothing to do
        if self.state.stage == "closed":
            raise Rejected("ticket is already closed")
        s = self.state
        s.resolved_at, s.resolution = now, resolution or None
        actions = self._event_stage("resolved", now, "ticket")
        actions.append(self._marker("ticket.resolved", now, f"Resolved by {self._name(by)}", by,
                                    {"resolution": resolution}))
        return actions + self._emit("resolved", now, {"by": by, "resolution": resolution})

    def reopen(self, by: str | None, now: datetime, event_id: str | None = None) -> list[Action]:
        if self._seen(event_id):
            return []
        if self.state.stage == "closed":
            raise Rejected("a closed ticket cannot be reopened")
        if self.state.stage != "resolved":
            return []  # already open (e.g. Chatwoot echoing a reopen ticketflow did)
        self.state.resolved_at = None
        actions = self._event_stage("open", now, "ticket")
        actions.append(self._marker("ticket.reopened", now, "Reopened", by))
        return actions + self._emit("reopened", now, {"by": by})

    def reassign(self, to: str, by: str | None, now: datetime, event_id: str | None = None) -> list[Action]:
        if self._seen(event_id):
            return []
        self._require_open("reassign")
        self.check_party(to)
        return self._assign(to, now, f"Reassigned to {self._name(to)} by {by or 'operator'}", "operator")

    def classify(self, ask_type: str | None, labels: list[str] | None, attributes: dict | None, now: datetime,
                 event_id: str | None = None) -> list[Action]:
        if self._seen(event_id):
            return []
        self._require_open("classify")
        if ask_type is not None:
            dim = self.policy.classification.get("ask_type")
            if dim is None or ask_type not in dim.values:
                known = ", ".join(sorted(dim.values)) if dim else "none"
                raise Rejected(f"unknown ask type {ask_type!r}; known: {known}")
        before = dict(self.state.facts)
        self._classify_into_facts(ask_type, labels, attributes)
        if self.state.facts == before:
            return []
        return self._emit("classified", now)

    def vip_changed(self, vip: bool, by: str, why: str, now: datetime, event_id: str | None = None) -> list[Action]:
        """Setting the flag makes this ticket VIP now; removing it applies
        forward only (the SOP: the existing thread completes under VIP service)."""
        if self._seen(event_id):
            return []
        if self.state.facts.get("vip_flag") == vip:
            return []
        self.state.facts["vip_flag"] = vip
        ctx = {"by": by, "why": why, "new_vip": vip}
        if vip:
            self.state.facts["vip"] = True
            return self._emit("vip_set", now, ctx)
        return self._emit("vip_removed", now, ctx)

    def status_changed(self, status: str, now: datetime, event_id: str | None = None) -> list[Action]:
        if self._seen(event_id):
            return []
        if status in ("pending", "snoozed"):
            return self._emit("status_pending", now, {"status": status})
        return []

    def escalate(self, by: str, target: str | None, reason: str, payload: dict[str, Any], now: datetime,
                 event_id: str | None = None) -> list[Action]:
        if self._seen(event_id):
            return []
        name, target, clean = self.check_escalation(target, reason, payload)
        return self._start_handoff(name, target, reason, clean, by, now, "operator")

    def handoff_response(self, by: str, decision: str | None, founder_action: str | None, ok: bool,
                         handoff: str | None, now: datetime, event_id: str | None = None) -> list[Action]:
        """Forward an acknowledgement / decision / explicit failure to the open handoff."""
        if self._seen(event_id):
            return []
        h = self.check_handoff_response(decision, ok, handoff)
        return [self._action("handoff.signal", now, f"Handoff {h.title}: {'response' if ok else 'failure'} from "
                             f"{self._name(by)}", h.target, {
                                 "handoff_id": h.id, "by": by, "ok": ok, "decision": decision,
                                 "founder_action": founder_action})]

    def handoff_result(self, handoff_id: str, outcome: str, by: str | None, decision: str | None,
                       founder_action: str | None, new_owner: str | None, ladder: list[LadderEntry],
                       now: datetime) -> list[Action]:
        """The handoff workflow reports how it ended (or a late acknowledgement)."""
        h = self.state.handoffs.get(handoff_id)
        if h is None:
            raise Rejected(f"unknown handoff {handoff_id!r}")
        self.state.ladder.extend(ladder)
        self._trim()
        ctx = {"handoff": h.name, "target": h.target, "reason": h.reason, "by": by, "decision": decision,
               "founder_action": founder_action}
        actions: list[Action] = []
        if new_owner and new_owner != self.state.owner:
            self.state.previous_owner, self.state.owner = self.state.owner, new_owner
        if outcome == "failed":
            if h.status == "failed":
                return actions  # a progress report (e.g. the secondary was paged)
            h.status = "failed"
            actions.append(self._marker("handoff.failed", now, f"{h.title} to {self._name(h.target)} failed",
                                        h.target, {"handoff_id": h.id, "new_owner": new_owner}))
            actions += self._emit("handoff_failed", now, ctx)
        elif outcome in ("acknowledged", "decided"):
            h.status, h.by, h.decision, h.founder_action = outcome, by, decision, founder_action  # type: ignore[assignment]
            detail = f"decision {decision}" if outcome == "decided" else "acknowledged"
            actions.append(self._marker("handoff.completed", now, f"{h.title}: {detail} by {self._name(by)}", by,
                                        {"handoff_id": h.id, "outcome": outcome, "decision": decision,
                                         "founder_action": founder_action}))
            actions += self._emit("handoff_decided" if outcome == "decided" else "handoff_acknowledged", now, ctx)
        return actions

    def page_update(self, dedup_key: str, status: str, by: str | None, now: datetime,
                    event_id: str | None = None) -> list[Action]:
        """A page was acknowledged or resolved in PagerDuty: stop the ladder
        that raised it (its pending steps), keep the SLA's breach on record.
        A page raised by a handoff is forwarded to that handoff."""
        if self._seen(event_id):
            return []
        page = self.state.pages.get(dedup_key)
        if page is None:
            h = next((h for h in self.state.handoffs.values() if dedup_key.startswith(h.id + ":")), None)
            if h is None:
                raise Rejected(f"no page with dedup key {dedup_key!r} on this ticket")
            return [self._action("handoff.page", now, f"PagerDuty {status} for {h.title}", h.target,
                                 {"handoff_id": h.id, "dedup_key": dedup_key, "status": status, "by": by})]
        if page.status == "resolved" or page.status == status:
            return []
        page.status = status  # type: ignore[assignment]
        before = len(self.state.pending)
        self.state.pending = [p for p in self.state.pending if p.source != page.source]
        self._log(now, page.source, f"pagerduty.{status}", page.target,
                  f"Page to {self._name(page.target)} {status} in PagerDuty"
                  + (f" by {by}" if by else "") + (f"; {before - len(self.state.pending)} ladder step(s) stopped"
                                                   if before != len(self.state.pending) else ""))
        actions = [self._marker("page.updated", now, f"Page to {self._name(page.target)} {status} in PagerDuty",
                                page.target, {"dedup_key": dedup_key, "status": status, "by": by,
                                              "stopped_steps": before - len(self.state.pending)})]
        h = self.state.handoffs.get(page.source.removeprefix("handoff:"))
        if h is not None and h.status == "open":  # a handoff's start page: its target picked it up
            actions.append(self._action("handoff.page", now, f"PagerDuty {status} for {h.title}", h.target,
                                        {"handoff_id": h.id, "dedup_key": dedup_key, "status": status, "by": by}))
        return actions

    def advance(self, now: datetime) -> list[Action]:
        """Fire every clock breach and ladder step due at or before now, in order."""
        outer = self._wall is None
        if outer:
            self._wall = now
        try:
            return self._advance(now)
        finally:
            if outer:
                self._wall = None

    def _advance(self, now: datetime) -> list[Action]:
        actions: list[Action] = []
        while not self.closed:
            due = self._next_due(now)
            if due is None:
                break
            kind, item = due
            if kind == "clock":
                actions += self._breach(item, now)
            else:
                self.state.pending.remove(item)
                if not self._too_late(item.due, now):
                    actions += self._run_step(item)
                elif item.step.do in NOTIFYING_STEPS:
                    actions += self._missed(item, self._wall or now)
                else:  # state still moves (assign, label, level, a handoff ...), as of now
                    actions += self._run_step(item.model_copy(update={"due": self._wall or now}))
        return actions

    def _too_late(self, due: datetime, now: datetime) -> bool:
        return self.sop_orders and (self._wall or now) - due > self.policy.max_catch_up

    def _missed(self, pending: PendingStep, now: datetime) -> list[Action]:
        """A notifying step overdue past `max_catch_up`: on record, not sent."""
        step = pending.step
        if not holds(step.when, self.facts(pending.context, at=pending.due)):
            return []
        target = self._resolve_target(step, pending) if step.target else None
        what = f" {step.template or step.label}" if step.template or step.label else ""
        late = human_duration(now - pending.due, approx=True)
        summary = f"Missed {step.do}{what}{' to ' + self._name(target) if target else ''}: due " \
                  f"{self._local(pending.due)}, {late} ago (over the pack's max_catch_up)"
        self._log(now, pending.source, f"{step.do}.missed", target, summary)
        return [self._marker("ladder.missed", now, summary[:300], target, {
            "step": step.do, "source": pending.source, "due": pending.due.isoformat(), "template": step.template})]

    def record_failure(self, at: datetime, source: str, action: str, target: str | None, why: str) -> None:
        """An action the workflow could not carry out (after its retries): kept in the ladder."""
        self._log(at, source, f"{action}.failed", target, why[:300])

    def reject(self, signal: str, reason: str, now: datetime) -> None:
        self.state.rejected.append(RejectedSignal(signal=signal, reason=reason, at=now))
        del self.state.rejected[:-MAX_REJECTED]

    # -------------------------------------------------------------- validation

    def check_party(self, pid: str) -> None:
        if self.policy.party(pid) is None:
            raise Rejected(f"unknown person or team {pid!r}; known: {', '.join(sorted(self.policy.party_ids))}")

    def check_escalation(self, target: str | None, reason: str, payload: dict[str, Any]) -> tuple[str, str, dict]:
        if self.state.stage in ("resolved", "closed"):
            raise Rejected(f"cannot escalate a {self.state.stage} ticket")
        route = self.policy.escalations.get(reason)
        if route is None:
            raise Rejected(f"unknown escalation reason {reason!r}; known: {', '.join(sorted(self.policy.escalations))}")
        spec = self.policy.handoffs[route.handoff]
        target = target or route.target
        self.check_party(target)
        if target not in spec.to:
            raise Rejected(f"{reason!r} escalates to {', '.join(spec.to)} (handoff {route.handoff!r}), not {target!r}")
        given = dict(payload)
        if spec.reason_field:
            given.setdefault(spec.reason_field, reason)
        try:
            clean = validate_payload(route.handoff, spec, given, self._payload_context())
        except PayloadError as exc:
            raise Rejected(str(exc)) from None
        return route.handoff, target, clean

    def check_handoff_response(self, decision: str | None, ok: bool, handoff: str | None) -> HandoffState:
        """The open handoff a response is for, if the response fits its spec."""
        h = self.open_handoff(handoff)
        spec = self.policy.handoffs[h.name]
        if ok and spec.success == "decision" and decision not in spec.decisions:
            raise Rejected(f"handoff {h.name!r} needs a decision, one of: {', '.join(spec.decisions)}")
        if ok and spec.success == "acknowledged" and decision is not None:
            raise Rejected(f"handoff {h.name!r} is acknowledged, not decided")
        return h

    def open_handoff(self, name: str | None = None) -> HandoffState:
        candidates = [h for h in self.state.handoffs.values()
                      if h.status in ("open", "failed") and (name is None or h.name == name or h.id == name)]
        if not candidates:
            raise Rejected("no open handoff" + (f" named {name!r}" if name else ""))
        return candidates[-1]

    # ---------------------------------------------------------------- internals

    def _seen(self, event_id: str | None) -> bool:
        if event_id is None:
            return False
        if event_id in self.state.seen_events:
            return True
        self.state.seen_events.append(event_id)
        del self.state.seen_events[:-MAX_SEEN]
        return False

    def _require_open(self, what: str) -> None:
        if self.closed:
            raise Rejected(f"{what}: ticket is closed")

    def _name(self, pid: str | None) -> str:
        party = self.policy.party(pid) if pid else None
        return party.name if party else (pid or "nobody")

    def _next_seq(self) -> int:
        self.state.seq += 1
        return self.state.seq

    def _action(self, kind: str, at: datetime, summary: str, target: str | None = None,
                params: dict[str, Any] | None = None, key: str | None = None) -> Action:
        key = key or f"{self.key_base}:{self._next_seq()}"
        return Action(kind=kind, key=key, at=at, target=target, summary=summary, params=params or {})

    def _marker(self, kind: str, at: datetime, summary: str, target: str | None = None,
                params: dict[str, Any] | None = None) -> Action:
        return self._action(kind, at, summary, target, params)

    def _log(self, at: datetime, source: str, action: str, target: str | None, summary: str) -> None:
        self.state.ladder.append(LadderEntry(at=at, source=source, action=action, target=target, summary=summary))
        self._trim()

    def _trim(self) -> None:
        del self.state.ladder[:-MAX_LADDER]

    def _coverage_owner(self, now: datetime) -> str:
        facts = self.facts()
        for rule in self.policy.coverage:
            if not holds(rule.when, facts):
                continue
            if rule.calendar is not None and not business_time.is_open(self.policy.calendars[rule.calendar], now,
                                                                         intake=True):
                continue
            return rule.owner
        return self.policy.coverage[-1].owner  # the loader guarantees an unconditional fallback

    def _classify_into_facts(self, ask_type: str | None, labels: list[str] | None, attrs: dict | None) -> None:
        labels = labels or []
        attrs = attrs or {}
        for dim_name, dim in self.policy.classification.items():
            value = None
            if dim_name == "ask_type" and ask_type:
                value = ask_type
            if value is None and dim.attribute and isinstance(attrs.get(dim.attribute), str):
                candidate = attrs[dim.attribute].strip().lower()
                value = candidate if candidate in dim.values else None
            if value is None:
                for lab in labels:
                    lab_l = lab.lower()
                    if dim.label_prefix and lab_l.startswith(dim.label_prefix.lower()):
                        candidate = lab_l[len(dim.label_prefix):]
                        if candidate in dim.values:
                            value = candidate
                            break
                    hit = next((v for v, spec in dim.values.items() if lab_l in [x.lower() for x in spec.labels]), None)
                    if hit:
                        value = hit
                        break
            if value is None and dim_name in self.state.facts:
                continue  # keep what was classified before
            value = value or dim.default
            if value is None:
                continue
            self.state.facts[dim_name] = value
            self.state.facts.update(dim.values[value].facts)

    def _payload_context(self) -> dict[str, Any]:
        t = self.state.ticket
        return {"conversation_id": t.conversation_id, "customer_id": self.state.facts.get("customer_id"),
                "customer_name": t.contact.name, "vip": self.state.facts.get("vip"),
                "founder_personal": self.state.facts.get("founder_personal"), "ticket_id": self.state.workflow_id,
                "short_id": short_id(self.state.workflow_id), "urgency": self.state.facts.get("urgency"),
                "summary": f"{t.contact.name or 'Customer'} — conversation {t.conversation_id}",
                "customer_email": t.contact.email}

    def template_context(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        s, t = self.state, self.state.ticket
        owner = self.policy.party(s.owner) if s.owner else None
        ctx: dict[str, Any] = {
            "first_name": t.contact.first_name, "customer_name": t.contact.name or "the customer",
            "customer_email": t.contact.email, "ticket_id": s.workflow_id, "short_id": short_id(s.workflow_id),
            "conversation_id": t.conversation_id, "owner_name": owner.name if owner else s.owner,
            "owner_first_name": owner.first_name if owner else s.owner, "stage": s.stage,
            "severity": s.facts.get("severity"), "priority": s.facts.get("priority"),
            "urgency": s.facts.get("urgency"), "category": s.facts.get("category"),
            "ask_type": s.facts.get("ask_type"), "issue_type": s.facts.get("issue_type"), "level": s.level, "level_name": self.policy.levels.get(s.level, ""),
            "resolution": s.resolution,
        }
        extra = extra or {}
        target = extra.get("target") or s.facts.get("escalated_to")
        tp = self.policy.party(target) if target else None
        ctx.update({"target": target, "expert": tp.first_name if tp else target, "expert_name": tp.name if tp else target,
                    "team": tp.name if tp else target})
        ctx["timeframe"] = s.facts.get("timeframe")  # a pack may set it per priority/urgency
        for key in ("reason", "timeframe", "clock", "deadline", "issue", "attempted", "impact", "summary",
                    "handoff_title", "payload", "by"):
            if extra.get(key) is not None:
                ctx[key] = extra[key]
        ctx.setdefault("summary", f"{t.contact.name or 'Customer'} — conversation {t.conversation_id}")
        if ctx.get("by"):
            ctx["by"] = self._name(ctx["by"])  # people read names; audit rows keep the id
        return ctx

    def _local(self, t: datetime) -> str:
        return local_time(t, self.policy.timezone)

    # clocks ------------------------------------------------------------------

    def _deadline(self, spec: ClockSpec, start: datetime) -> datetime:
        if spec.calendar:
            return business_time.add_business(self.policy.calendars[spec.calendar], start, spec.duration)
        return start + spec.duration

    def _start_clock(self, name: str, spec: ClockSpec, now: datetime) -> None:
        prev = self.state.clocks.get(name)
        start = self.state.opened_at if spec.measure_from == "ticket_opened" and self.state.opened_at else now
        self.state.clocks[name] = ClockState(
            name=name, title=spec.title, status="running", started_at=start, deadline=self._deadline(spec, start),
            business_calendar=spec.calendar, cycle=(prev.cycle + 1) if prev else 0)

    def _stop_clock(self, name: str, now: datetime, status: str) -> list[Action]:
        """Stop a clock (or set it aside: `waiting`): its pending ladder steps
        go, and the pages it raised are resolved."""
        clock = self.state.clocks[name]
        clock.status, clock.stopped_at = status, now  # type: ignore[assignment]
        source = f"clock:{name}"
        self.state.pending = [p for p in self.state.pending if p.source != source]
        actions: list[Action] = []
        if self.policy.clocks[name].resolve_pages_on_stop:
            actions += self._resolve_pages(lambda p: p.source == source, now, f"{clock.title} satisfied")
        return actions

    def _breach(self, clock: ClockState, now: datetime) -> list[Action]:
        spec = self.policy.clocks[clock.name]
        at = clock.deadline
        if self.sop_orders and clock.activated_at is not None and clock.activated_at > at:
            at = clock.activated_at  # it began to run past its deadline: it breaches then, not before
        clock.status, clock.breached_at, clock.anchor_owner = "breached", at, self.state.owner
        self.state.facts["sla_breached"] = True
        self._log(at, f"clock:{clock.name}", "sla.breached", self.state.owner, f"{clock.title} breached")
        actions = [self._marker("sla.breached", at, f"{clock.title} breached", self.state.owner,
                                {"clock": clock.name, "deadline": at.isoformat(), "cycle": clock.cycle})]
        ctx = {"clock": clock.title, "timeframe": human_duration(spec.duration), "deadline": self._local(clock.deadline)}
        self._schedule(spec.on_breach, f"clock:{clock.name}", f"clock:{clock.name}:{clock.cycle}", at,
                       clock.anchor_owner, ctx)
        if spec.repeat:
            clock.status = "running"
            clock.started_at, clock.deadline = at, self._deadline(spec, at)
            clock.cycle += 1
            clock.breached_at = None
            skipped = 0
            while self._too_late(clock.deadline, now):  # a backfill: one record, not one note per period
                clock.started_at, clock.deadline = clock.deadline, self._deadline(spec, clock.deadline)
                clock.cycle += 1
                skipped += 1
            if skipped:
                summary = f"{clock.title}: {skipped} period(s) missed, over the pack's max_catch_up"
                self._log(now, f"clock:{clock.name}", "repeat.missed", None, summary)
                actions.append(self._marker("ladder.missed", now, summary, None,
                                            {"clock": clock.name, "periods": skipped, "source": f"clock:{clock.name}"}))
        return actions + self.advance(at)

    def _schedule(self, steps: Iterable[Step], source: str, id_base: str, at: datetime, anchor: str | None,
                  ctx: dict[str, Any]) -> None:
        for i, step in enumerate(steps):
            self.state.pending.append(PendingStep(id=f"{id_base}:{i}", source=source, due=at + step.after,
                                                  step=step, anchor_owner=anchor, context=ctx))

    def _next_due(self, now: datetime):
        best = None
        for c in self.state.clocks.values():
            if c.status == "running" and c.deadline <= now and (best is None or c.deadline < best[0]):
                best = (c.deadline, "clock", c)
        for p in self.state.pending:
            if p.due <= now and (best is None or p.due < best[0]):
                best = (p.due, "step", p)
        return (best[1], best[2]) if best else None

    def _emit(self, event: str, now: datetime, ctx: dict[str, Any] | None = None) -> list[Action]:
        """Apply an event to clocks and rules, then run whatever became due."""
        if self._depth > 8:
            raise RuntimeError(f"policy rules loop on event {event!r}")
        self._depth += 1
        try:
            ctx = ctx or {}
            actions: list[Action] = []
            if not self.reactive:
                return self.advance(now)
            if self.sop_orders:
                actions += self._clocks_on_event(event, now)
            else:
                actions += self._clocks_on_event_v1(event, now)
            event_facts = self.facts(ctx, at=now)  # rules may also test the event (handoff, target, ...)
            for i, rule in enumerate(self.policy.rules):
                if rule.on == event and holds(rule.when, event_facts):
                    self._schedule(rule.do, f"rule:{i}", f"rule:{i}:{self._next_seq()}", now, self.state.owner, ctx)
            if self.sop_orders:
                self._fire_conditions(now)
            return actions + self.advance(now)
        finally:
            self._depth -= 1

    def _clocks_on_event_v1(self, event: str, now: datetime) -> list[Action]:
        """Tickets started before `sop-event-orders`: a start event starts a
        clock only if its condition holds right then; a failing condition
        cancels it."""
        actions: list[Action] = []
        facts = self.facts()  # clocks depend on the ticket's facts only
        for name, spec in self.policy.clocks.items():
            clock = self.state.clocks.get(name)
            active = clock is not None and clock.status in ("running", "breached")
            if active and event in spec.stops_on:
                actions += self._stop_clock(name, now, "stopped")
                active = False
            elif active and clock.status == "running" and event in spec.restart_on:
                clock.started_at, clock.deadline = now, self._deadline(spec, now)
            if not active and event in spec.starts_on and holds(spec.when, facts) and not self.closed:
                self._start_clock(name, spec, now)
        for name, clock in list(self.state.clocks.items()):
            if clock.status in ("running", "breached") and not holds(self.policy.clocks[name].when, facts):
                actions += self._stop_clock(name, now, "cancelled")
        return actions

    def _clocks_on_event(self, event: str, now: datetime) -> list[Action]:
        """Stop, restart and arm clocks on an event, then let every armed
        clock run or wait as the ticket's facts now say."""
        actions: list[Action] = []
        for name, spec in self.policy.clocks.items():
            clock = self.state.clocks.get(name)
            armed = clock is not None and clock.status in ("running", "waiting", "breached")
            if armed and event in spec.stops_on:
                actions += self._stop_clock(name, now, "stopped")
                armed = False
            elif armed and clock.status == "running" and event in spec.restart_on:
                clock.started_at, clock.deadline = now, self._deadline(spec, now)
            if armed or event not in spec.starts_on or self.closed:
                continue
            if event in FACT_EVENTS and clock is not None:
                continue  # a classification never revives a clock that already stopped
            self.state.clocks[name] = ClockState(
                name=name, title=spec.title, status="waiting", started_at=now, deadline=now, armed_at=now,
                business_calendar=spec.calendar, cycle=(clock.cycle + 1) if clock else 0)
        return actions + self._reconcile_clocks(now)

    def _reconcile_clocks(self, now: datetime) -> list[Action]:
        """An armed clock runs while its condition holds (and, if it is
        customer-facing, while the ticket is not silent), and waits
        otherwise. Starting to run re-derives the deadline from the clock's
        start (`measure_from`), so a reclassification moves the target of
        the SLA in force rather than starting a new one. A clock that
        breached and was set aside does not breach twice."""
        actions: list[Action] = []
        facts, silent = self.facts(), self.silent()
        for name, clock in self.state.clocks.items():
            spec = self.policy.clocks.get(name)
            if spec is None:
                continue
            applies = holds(spec.when, facts) and not (spec.customer_facing and silent)
            if clock.status == "waiting" and applies and not self.closed:
                if clock.breached_at is not None:
                    clock.status = "breached"
                    continue
                start = self.state.opened_at if spec.measure_from == "ticket_opened" and self.state.opened_at else now
                clock.status, clock.started_at, clock.activated_at = "running", start, now
                clock.deadline = self._deadline(spec, start)
            elif clock.status in ("running", "breached") and not applies:
                actions += self._stop_clock(name, now, "waiting")
        return actions

    def _fire_conditions(self, now: datetime) -> None:
        """`condition_met` rules: run once per ticket, the first time their
        condition holds, whatever event made it true."""
        if self.closed:
            return
        facts = self.facts(at=now)
        for i, rule in enumerate(self.policy.rules):
            if rule.on == "condition_met" and i not in self.state.fired_rules and holds(rule.when, facts):
                self.state.fired_rules.append(i)
                self._schedule(rule.do, f"rule:{i}", f"rule:{i}:once", now, self.state.owner, {})

    def _ack(self, by: str, now: datetime) -> list[Action]:
        s = self.state
        if s.acknowledged_at is not None:
            return []
        s.acknowledged_at, s.acknowledged_by = now, by
        actions = []
        if s.stage == "open" and "acknowledged" in self.policy.stages:
            actions = self._event_stage("acknowledged", now, "ticket")
        self._log(now, "ticket", "acknowledged", by, f"Acknowledged by {self._name(by)}")
        return actions + self._emit("acknowledged", now, {"by": by})

    def _assign(self, to: str, at: datetime, summary: str, source: str) -> list[Action]:
        party = self.policy.party(to)
        s = self.state
        if to != s.owner:
            s.previous_owner, s.owner = s.owner, to
        params = {"agent_id": party.chatwoot_agent_id} if party and party.chatwoot_agent_id else {}
        if party and party.chatwoot_team_id and not params:
            params = {"team_id": party.chatwoot_team_id}
        self._log(at, source, "assign", to, summary)
        actions = [self._action("chatwoot.assign", at, summary, to, params)] if params else []
        return actions + self._emit("assigned", at, {"target": to})

    def _resolve_pages(self, which, at: datetime, why: str) -> list[Action]:
        actions = []
        for page in self.state.pages.values():
            if page.status != "resolved" and which(page):
                page.status = "resolved"
                target = self.policy.party(page.target)
                actions.append(self._action("pagerduty.resolve", at, f"Resolve page to {self._name(page.target)}: {why}",
                                            page.target, {"dedup_key": page.dedup_key,
                                                          "routing_key_name": target.pagerduty if target else None}))
                self._log(at, page.source, "pagerduty.resolve", page.target, f"Page to {self._name(page.target)} resolved")
        return actions

    def _resolve_target(self, step: Step, pending: PendingStep) -> str | None:
        t = step.target
        anchor = pending.anchor_owner or self.state.owner

        def backup_of(pid: str | None) -> str | None:
            party = self.policy.party(pid) if pid else None
            return party.backup if party else None

        if t == "owner":
            return self.state.owner
        if t == "coverage":
            return self._coverage_owner(pending.due)
        if t == "backup":
            return backup_of(anchor)
        if t == "backup2":
            return backup_of(backup_of(anchor))
        if t == "previous_owner":
            return self.state.previous_owner
        if t in ("handoff_target", "secondary"):
            return pending.context.get(t if t == "secondary" else "target")
        return t

    def _run_step(self, pending: PendingStep) -> list[Action]:
        step, at = pending.step, pending.due
        if self.closed and step.do not in ("audit", "resolve_pages"):
            return []
        extra = dict(pending.context)
        if not holds(step.when, self.facts(extra, at=at)):
            return []
        target = self._resolve_target(step, pending) if step.target else None
        if step.target and target is None:
            self._log(at, pending.source, f"{step.do}.skipped", None, f"{step.do}: nobody to {step.target}")
            return []
        if target:
            extra.setdefault("target", target)
        ctx = self.template_context(extra)
        key = f"{self.key_base}:{pending.id}"
        summary = render(step.summary, ctx) if step.summary else None
        do = step.do
        s = self.state

        if do == "page":
            party = self.policy.party(target)
            text = summary or f"{ctx.get('clock') or 'Escalation'}: {ctx['summary']}"
            s.pages[key] = PageState(dedup_key=key, target=target, source=pending.source, at=at)
            self._log(at, pending.source, "pagerduty.trigger", target, f"Paged {self._name(target)}")
            return [self._action("pagerduty.trigger", at, f"Page {self._name(target)}: {text}"[:1024], target, {
                "dedup_key": key, "routing_key_name": party.pagerduty if party else None, "severity": step.severity,
                "summary": f"[{ctx['short_id']}] {text}"[:1024], "custom_details": {
                    "ticket": s.workflow_id, "conversation_id": s.ticket.conversation_id, "owner": s.owner,
                    "stage": s.stage, "source": pending.source}}, key=key)]
        if do == "resolve_pages":
            return self._resolve_pages(lambda p: step.target is None or p.target == target, at, summary or "resolved")
        if do == "assign":
            return self._assign(target, at, summary or f"Assign to {self._name(target)}", pending.source)
        if do in ("label", "unlabel"):
            label = render(step.label, ctx)
            self._log(at, pending.source, do, None, f"{do} {label}")
            params = {"add": [label]} if do == "label" else {"remove": [label]}
            return [self._action("chatwoot.labels", at, summary or f"{'Add' if do == 'label' else 'Remove'} label {label}",
                                 target, params, key=key)]
        if do in ("note", "message"):
            content = render(self.policy.templates[step.template], ctx)
            if do == "message" and self.silent():
                self._log(at, pending.source, "message.suppressed", None, f"Silent ticket: {step.template} not sent")
                return [self._marker("message.suppressed", at, f"Customer message '{step.template}' suppressed (silent)",
                                     None, {"template": step.template})]
            kind = "chatwoot.message" if do == "message" else "chatwoot.note"
            self._log(at, pending.source, kind, target, summary or f"{'Message' if do == 'message' else 'Note'}: {step.template}")
            return [self._action(kind, at, summary or f"{'Public message' if do == 'message' else 'Private note'}: "
                                 f"{step.template}", target, {"content": content, "template": step.template}, key=key)]
        if do == "status":
            self._log(at, pending.source, "chatwoot.status", None, f"Status {step.status}")
            return [self._action("chatwoot.status", at, summary or f"Set Chatwoot status {step.status}", None,
                                 {"status": step.status}, key=key)]
        if do == "stage":
            return self._set_stage(step.stage, at, pending.source)
        if do == "level":
            if step.level <= s.level:
                return []
            s.level = step.level
            name = self.policy.levels.get(step.level, "")
            self._log(at, pending.source, "level", target, f"Escalation level {step.level} {name}".strip())
            actions = [self._marker("ticket.level", at, f"Escalation level {step.level} {name}".strip(), target,
                                    {"level": step.level, "name": name})]
            return actions + self._emit("level_changed", at, {"level": step.level})
        if do == "handoff":
            spec = self.policy.handoffs[step.handoff]
            to = target or spec.to[0]
            fields = {k: render(v, ctx) if isinstance(v, str) else v for k, v in step.fields.items()}
            reason = render(step.reason, ctx) if step.reason else None
            if spec.reason_field and reason:
                fields.setdefault(spec.reason_field, reason)
            try:
                payload = validate_payload(step.handoff, spec, fields, self._payload_context())
            except PayloadError as exc:
                self._log(at, pending.source, "handoff.skipped", to, f"Handoff {step.handoff} not started: {exc}")
                return []
            return self._start_handoff(step.handoff, to, reason, payload, "ticketflow", at, pending.source)
        if do == "audit":
            row = {k: render(v, ctx) if isinstance(v, str) else v for k, v in step.fields.items()}
            row.update({"by_agent": row.get("by_agent") or extra.get("by") or s.owner})
            return [self._action(f"audit.{step.table}", at, summary or f"Audit row: {step.table}", target,
                                 {"row": row, "context": _jsonable(extra)}, key=key)]
        if do == "close":
            return self._close(at, pending.source)
        if do == "reopen":
            if s.stage != "resolved":
                return []
            s.resolved_at = None
            actions = self._set_stage("open", at, pending.source)
            actions.append(self._marker("ticket.reopened", at, summary or "Reopened", None))
            return actions + self._emit("reopened", at)
        if do == "emit":
            return self._emit(step.event, at, extra)
        if do == "count_recent_level":
            return [self._action("query.recent_level", at, summary or f"Count level-{step.level} escalations in the last "
                                 f"{human_duration(step.window)}", None,
                                 {"level": step.level, "window_seconds": step.window.total_seconds(),
                                  "policy": self.policy.name}, key=key)]
        raise AssertionError(f"unhandled step {do}")

    def recent_level_counted(self, level: int, count: int, now: datetime) -> list[Action]:
        """Result of a `count_recent_level` step: other tickets that reached `level`."""
        self.state.facts[f"recent_level_{level}_count"] = count
        return self._emit("level_counted", now, {"counted_level": level, "count": count})

    def _event_stage(self, stage: str, at: datetime, source: str) -> list[Action]:
        if self.event_stage_markers:
            return self._set_stage(stage, at, source)
        self.state.stage = stage
        return []

    def _set_stage(self, stage: str, at: datetime, source: str) -> list[Action]:
        s = self.state
        if s.stage == stage:
            return []
        s.stage = stage
        self._log(at, source, "stage", None, f"Stage {stage}")
        actions = [self._marker("ticket.stage", at, f"Stage → {stage}", None, {"stage": stage})]
        attr = self.policy.mirror_stage_attribute
        if attr:
            actions.append(self._action("chatwoot.attributes", at, f"Mirror stage {stage} to Chatwoot", None,
                                        {"set": {attr: stage, "ticket_id": short_id(s.workflow_id)}}))
        return actions

    def _close(self, at: datetime, source: str) -> list[Action]:
        s = self.state
        if s.stage == "closed":
            return []
        actions = self._set_stage("closed", at, source)
        s.closed_at = at
        for name, clock in s.clocks.items():
            if clock.status in ("running", "breached", "waiting"):
                clock.status, clock.stopped_at = "stopped", at
        s.pending = [p for p in s.pending if p.step.do in ("audit",)]
        actions += self._resolve_pages(lambda p: True, at, "ticket closed")
        actions.append(self._marker("ticket.closed", at, "Ticket closed", None))
        return actions

    def _start_handoff(self, name: str, target: str, reason: str | None, payload: dict[str, Any], by: str,
                       now: datetime, source: str) -> list[Action]:
        spec = self.policy.handoffs[name]
        s = self.state
        n = sum(1 for h in s.handoffs.values() if h.name == name)
        hid = f"{self.key_base}:handoff:{name}:{n}"
        cal = self.policy.calendars.get(spec.calendar) if spec.calendar else None
        deadline = business_time.add_business(cal, now, spec.timeout) if cal else now + spec.timeout
        s.handoffs[hid] = HandoffState(id=hid, name=name, title=spec.title, target=target, reason=reason,
                                       started_at=now, deadline=deadline, payload=payload)
        s.facts.update({"escalated": True, "escalated_to": target, "last_handoff": name})
        stage_actions = self._event_stage("escalated", now, source) \
            if s.stage not in ("resolved", "closed") and "escalated" in self.policy.stages else []
        self._log(now, source, "handoff.started", target, f"{spec.title} → {self._name(target)}")
        ctx = {"handoff": name, "target": target, "reason": reason, "by": by,
               "timeframe": human_duration(spec.timeout) + (" business" if cal else ""),
               "issue": payload.get("issue_summary") or payload.get("issue") or payload.get("ask"),
               "attempted": payload.get("alicia_already_tried") or payload.get("attempted"),
               "impact": payload.get("impact"), "handoff_title": spec.title, "payload": payload_text(payload)}
        if self.sop_orders and spec.on_start:
            # The target hears of it now (assign, label, brief, page), not when it times out.
            self._schedule(spec.on_start, f"handoff:{hid}", f"handoff:{name}:{n}:start", now, s.owner, ctx)
        actions = stage_actions + [self._marker("handoff.started", now, f"{spec.title}: {self._name(by)} → {self._name(target)}",
                                target, {"handoff_id": hid, "handoff": name, "reason": reason, "payload": payload,
                                         "deadline": deadline.isoformat()}),
                   self._action("handoff.start", now, f"Start handoff {spec.title} → {self._name(target)}", target, {
                       "handoff_id": hid, "name": name, "target": target, "reason": reason, "payload": payload,
                       "by": by, "started_at": now.isoformat(), "deadline": deadline.isoformat(),
                       "context": _jsonable(self.template_context(ctx)), "facts": _jsonable(self.facts()),
                       "owner": s.owner})]
        return actions + self._emit("escalated", now, ctx)


def payload_text(payload: dict[str, Any]) -> str:
    """A handoff payload for people: one `Field: value` line each."""
    lines = []
    for key, value in payload.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    return "\n".join(lines)


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in d.items()
            if v is None or isinstance(v, (str, int, float, bool, datetime, list, dict))}
