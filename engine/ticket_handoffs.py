"""The ticket's side of its handoffs (the handoff's own side, its wait and
on-failure ladder, is `engine/handoff.py`, run by `HandoffWorkflow`).

An escalation is checked against the pack before anything happens (a known
reason, an allowed target, a payload that validates), so an operator's
update is refused with a clear message. Starting a handoff records it with
its absolute deadline (business time when the pack says so), marks the
ticket escalated, schedules the `on_start` steps that tell the target now,
and asks the workflow to start the child. Responses are forwarded to the
open handoff; its result, and any later progress, come back and are applied
here (a new owner, its ladder entries, a marker and an event for rules).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast

from engine import business_time
from engine.context import Rejected, TicketContext, jsonable
from engine.ladder import Ladder
from engine.lifecycle import Lifecycle
from engine.payloads import PayloadError, payload_text, validate_payload
from engine.template_fields import payload_context, template_context
from models.actions import Action
from models.durations import human_duration
from models.state import HandoffState, LadderEntry


class TicketHandoffs:
    def __init__(self, ctx: TicketContext, lifecycle: Lifecycle, ladder: Ladder) -> None:
        self.ctx = ctx
        self.lifecycle = lifecycle
        self.ladder = ladder

    # ------------------------------------------------------------ validation

    def check_escalation(
        self, target: str | None, reason: str, payload: dict[str, Any]
    ) -> tuple[str, str, dict[str, Any]]:
        """The handoff, target and clean payload of an escalation; Rejected
        saying what is wrong."""
        c = self.ctx
        if c.state.stage in ("resolved", "closed"):
            raise Rejected(f"cannot escalate a {c.state.stage} ticket")
        route = c.policy.escalations.get(reason)
        if route is None:
            raise Rejected(
                f"unknown escalation reason {reason!r}; "
                f"known: {', '.join(sorted(c.policy.escalations))}"
            )
        spec = c.policy.handoffs[route.handoff]
        target = target or route.target
        c.check_party(target)
        if target not in spec.to:
            raise Rejected(
                f"{reason!r} escalates to {', '.join(spec.to)} "
                f"(handoff {route.handoff!r}), not {target!r}"
            )
        given = dict(payload)
        if spec.reason_field:
            given.setdefault(spec.reason_field, reason)
        try:
            clean = validate_payload(route.handoff, spec, given, payload_context(c))
        except PayloadError as exc:
            raise Rejected(str(exc)) from None
        return route.handoff, target, clean

    def check_response(self, decision: str | None, ok: bool, handoff: str | None) -> HandoffState:
        """The open handoff a response is for, if the response fits its spec."""
        h = self.open_handoff(handoff)
        spec = self.ctx.policy.handoffs[h.name]
        if ok and spec.success == "decision" and decision not in spec.decisions:
            raise Rejected(
                f"handoff {h.name!r} needs a decision, one of: {', '.join(spec.decisions)}"
            )
        if ok and spec.success == "acknowledged" and decision is not None:
            raise Rejected(f"handoff {h.name!r} is acknowledged, not decided")
        return h

    def open_handoff(self, name: str | None = None) -> HandoffState:
        candidates = [
            h
            for h in self.ctx.state.handoffs.values()
            if h.status in ("open", "failed") and (name is None or h.name == name or h.id == name)
        ]
        if not candidates:
            raise Rejected("no open handoff" + (f" named {name!r}" if name else ""))
        return candidates[-1]

    # ------------------------------------------------------------ lifecycle

    def start(
        self,
        name: str,
        target: str,
        reason: str | None,
        payload: dict[str, Any],
        by: str,
        now: datetime,
        source: str,
    ) -> list[Action]:
        c = self.ctx
        spec = c.policy.handoffs[name]
        s = c.state
        n = sum(1 for h in s.handoffs.values() if h.name == name)
        hid = f"{c.key_base}:handoff:{name}:{n}"
        cal = c.policy.calendars.get(spec.calendar) if spec.calendar else None
        deadline = business_time.add_business(cal, now, spec.timeout) if cal else now + spec.timeout
        s.handoffs[hid] = HandoffState(
            id=hid,
            name=name,
            title=spec.title,
            target=target,
            reason=reason,
            started_at=now,
            deadline=deadline,
            payload=payload,
        )
        s.facts.update({"escalated": True, "escalated_to": target, "last_handoff": name})
        stage_actions = (
            self.lifecycle.event_stage("escalated", now, source)
            if s.stage not in ("resolved", "closed") and "escalated" in c.policy.stages
            else []
        )
        c.log(now, source, "handoff.started", target, f"{spec.title} → {c.name(target)}")
        context = {
            "handoff": name,
            "target": target,
            "reason": reason,
            "by": by,
            "timeframe": human_duration(spec.timeout) + (" business" if cal else ""),
            "issue": payload.get("issue_summary") or payload.get("issue") or payload.get("ask"),
            "attempted": payload.get("alicia_already_tried") or payload.get("attempted"),
            "impact": payload.get("impact"),
            "handoff_title": spec.title,
            "payload": payload_text(payload),
        }
        if c.sop_orders and spec.on_start:
            # The target hears of it now (assign, label, brief, page), not when it times out.
            self.ladder.schedule(
                spec.on_start, f"handoff:{hid}", f"handoff:{name}:{n}:start", now, s.owner, context
            )
        actions = stage_actions + [
            c.marker(
                "handoff.started",
                now,
                f"{spec.title}: {c.name(by)} → {c.name(target)}",
                target,
                {
                    "handoff_id": hid,
                    "handoff": name,
                    "reason": reason,
                    "payload": payload,
                    "deadline": deadline.isoformat(),
                },
            ),
            c.action(
                "handoff.start",
                now,
                f"Start handoff {spec.title} → {c.name(target)}",
                target,
                {
                    "handoff_id": hid,
                    "name": name,
                    "target": target,
                    "reason": reason,
                    "payload": payload,
                    "by": by,
                    "started_at": now.isoformat(),
                    "deadline": deadline.isoformat(),
                    "context": jsonable(template_context(c, context)),
                    "facts": jsonable(c.facts()),
                    "owner": s.owner,
                    # A handoff started in shadow mode runs in shadow to its end.
                    **({"shadow": s.shadow} if s.shadow is not None else {}),
                },
            ),
        ]
        return actions + c.reactor.emit("escalated", now, context)

    def forward_response(
        self,
        by: str,
        decision: str | None,
        founder_action: str | None,
        ok: bool,
        handoff: str | None,
        now: datetime,
    ) -> list[Action]:
        """Forward an acknowledgement / decision / explicit failure to the open handoff."""
        c = self.ctx
        h = self.check_response(decision, ok, handoff)
        return [
            c.action(
                "handoff.signal",
                now,
                f"Handoff {h.title}: {'response' if ok else 'failure'} from {c.name(by)}",
                h.target,
                {
                    "handoff_id": h.id,
                    "by": by,
                    "ok": ok,
                    "decision": decision,
                    "founder_action": founder_action,
                },
            )
        ]

    def apply_result(
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
        c, s = self.ctx, self.ctx.state
        h = s.handoffs.get(handoff_id)
        if h is None:
            raise Rejected(f"unknown handoff {handoff_id!r}")
        s.ladder.extend(ladder)
        c.trim()
        context = {
            "handoff": h.name,
            "target": h.target,
            "reason": h.reason,
            "by": by,
            "decision": decision,
            "founder_action": founder_action,
        }
        actions: list[Action] = []
        if new_owner and new_owner != s.owner:
            s.previous_owner, s.owner = s.owner, new_owner
        if outcome == "failed":
            if h.status == "failed":
                return actions  # a progress report (e.g. the secondary was paged)
            h.status = "failed"
            actions.append(
                c.marker(
                    "handoff.failed",
                    now,
                    f"{h.title} to {c.name(h.target)} failed",
                    h.target,
                    {"handoff_id": h.id, "new_owner": new_owner},
                )
            )
            actions += c.reactor.emit("handoff_failed", now, context)
        elif outcome in ("acknowledged", "decided"):
            # The `in` check above makes `outcome` one of these two handoff statuses.
            status = cast(Literal["acknowledged", "decided"], outcome)
            h.status, h.by, h.decision, h.founder_action = status, by, decision, founder_action
            detail = f"decision {decision}" if outcome == "decided" else "acknowledged"
            actions.append(
                c.marker(
                    "handoff.completed",
                    now,
                    f"{h.title}: {detail} by {c.name(by)}",
                    by,
                    {
                        "handoff_id": h.id,
                        "outcome": outcome,
                        "decision": decision,
                        "founder_action": founder_action,
                    },
                )
            )
            actions += c.reactor.emit(
                "handoff_decided" if outcome == "decided" else "handoff_acknowledged", now, context
            )
        return actions
