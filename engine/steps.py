"""Running one ladder or rule step: what each `do:` of a pack means.

A step runs at its due instant (or, caught up late, as of now) if the
ticket is still open and its `when` holds then. Its target is resolved
(`engine/targets.py`) and its templates rendered with the ticket's fields;
what it does becomes actions for the workflow (a page, a Chatwoot message,
an audit row, a handoff to start) and state that moves here (stage, level,
owner). Actions that reach another system are keyed by the step's id, so a
retry or a replay sends them once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from engine.conditions import holds
from engine.context import TicketContext, jsonable
from engine.lifecycle import Lifecycle
from engine.page_details import page_details
from engine.pages import Pages
from engine.payloads import PayloadError, validate_payload
from engine.targets import resolve_target
from engine.template_fields import payload_context, template_context
from engine.templates import render
from engine.ticket_handoffs import TicketHandoffs
from models.actions import Action
from models.durations import human_duration
from models.policy import EventName
from models.state import PageState, PendingStep


class StepRunner:
    def __init__(
        self, ctx: TicketContext, lifecycle: Lifecycle, pages: Pages, handoffs: TicketHandoffs
    ) -> None:
        self.ctx = ctx
        self.lifecycle = lifecycle
        self.pages = pages
        self.handoffs = handoffs

    def run(self, pending: PendingStep) -> list[Action]:
        c = self.ctx
        step, at = pending.step, pending.due
        if c.closed and step.do not in ("audit", "resolve_pages"):
            return []
        extra = dict(pending.context)
        if not holds(step.when, c.facts(extra, at=at)):
            return []
        target = resolve_target(c, step, pending) if step.target else None
        if step.target and target is None:
            c.log(
                at,
                pending.source,
                f"{step.do}.skipped",
                None,
                f"{step.do}: nobody to {step.target}",
            )
            return []
        if target:
            extra.setdefault("target", target)
        ctx = template_context(c, extra)
        key = f"{c.key_base}:{pending.id}"
        summary = render(step.summary, ctx) if step.summary else None
        do = step.do
        s = c.state
        # The pack's validation (`Step._needs`) guarantees the field each `do`
        # needs: a target for page and assign (one that resolves to nobody
        # returned above), a label, a template, a stage, a level, an event, a
        # window, a handoff. The casts below state that for the type checker.

        if do == "page":
            party = c.policy.party(cast(str, target))
            text = summary or f"{ctx.get('clock') or 'Escalation'}: {ctx['summary']}"
            s.pages[key] = PageState(
                dedup_key=key, target=target, source=pending.source, at=at, withheld=c.shadow
            )
            c.log(
                at,
                pending.source,
                "pagerduty.trigger",
                target,
                f"{'Would page' if c.shadow else 'Paged'} {c.name(target)}",
            )
            return [
                c.action(
                    "pagerduty.trigger",
                    at,
                    f"Page {c.name(target)}: {text}"[:1024],
                    target,
                    {
                        "dedup_key": key,
                        "routing_key_name": party.pagerduty if party else None,
                        "severity": step.severity,
                        "summary": f"[{ctx['short_id']}] {text}"[:1024],
                        "custom_details": page_details(c, pending, at),
                    },
                    key=key,
                )
            ]
        if do == "resolve_pages":
            return self.pages.resolve(
                lambda p: step.target is None or p.target == target, at, summary or "resolved"
            )
        if do == "assign":
            return self.lifecycle.assign(
                cast(str, target), at, summary or f"Assign to {c.name(target)}", pending.source
            )
        if do in ("label", "unlabel"):
            label = render(cast(str, step.label), ctx)
            c.log(at, pending.source, do, None, f"{do} {label}")
            params = {"add": [label]} if do == "label" else {"remove": [label]}
            return [
                c.action(
                    "chatwoot.labels",
                    at,
                    summary or f"{'Add' if do == 'label' else 'Remove'} label {label}",
                    target,
                    params,
                    key=key,
                )
            ]
        if do in ("note", "message"):
            content = render(c.policy.templates[cast(str, step.template)], ctx)
            if do == "message" and c.silent():
                c.log(
                    at,
                    pending.source,
                    "message.suppressed",
                    None,
                    f"Silent ticket: {step.template} not sent",
                )
                return [
                    c.marker(
                        "message.suppressed",
                        at,
                        f"Customer message '{step.template}' suppressed (silent)",
                        None,
                        {"template": step.template},
                    )
                ]
            kind = "chatwoot.message" if do == "message" else "chatwoot.note"
            c.log(
                at,
                pending.source,
                kind,
                target,
                summary or f"{'Message' if do == 'message' else 'Note'}: {step.template}",
            )
            return [
                c.action(
                    kind,
                    at,
                    summary
                    or f"{'Public message' if do == 'message' else 'Private note'}: "
                    f"{step.template}",
                    target,
                    {"content": content, "template": step.template},
                    key=key,
                )
            ]
        if do in ("slack", "email"):
            text = render(c.policy.templates[cast(str, step.template)], ctx)
            channels = self.lifecycle.channels
            return channels.send(pending, cast(str, target), text, ctx, key, summary)
        if do == "status":
            c.log(at, pending.source, "chatwoot.status", None, f"Status {step.status}")
            return [
                c.action(
                    "chatwoot.status",
                    at,
                    summary or f"Set Chatwoot status {step.status}",
                    None,
                    {"status": step.status},
                    key=key,
                )
            ]
        if do == "stage":
            return self.lifecycle.set_stage(cast(str, step.stage), at, pending.source)
        if do == "level":
            level = cast(int, step.level)
            if level <= s.level:
                return []
            s.level = level
            name = c.policy.levels.get(level, "")
            c.log(at, pending.source, "level", target, f"Escalation level {level} {name}".strip())
            actions = [
                c.marker(
                    "ticket.level",
                    at,
                    f"Escalation level {level} {name}".strip(),
                    target,
                    {"level": level, "name": name},
                )
            ]
            return actions + c.reactor.emit("level_changed", at, {"level": level})
        if do == "handoff":
            return self._handoff(pending, target, ctx)
        if do == "audit":
            row = {k: render(v, ctx) if isinstance(v, str) else v for k, v in step.fields.items()}
            row.update({"by_agent": row.get("by_agent") or extra.get("by") or s.owner})
            return [
                c.action(
                    f"audit.{step.table}",
                    at,
                    summary or f"Audit row: {step.table}",
                    target,
                    {"row": row, "context": jsonable(extra)},
                    key=key,
                )
            ]
        if do == "close":
            return self.lifecycle.close(at, pending.source)
        if do == "reopen":
            if s.stage != "resolved":
                return []
            s.resolved_at = None
            actions = self.lifecycle.set_stage("open", at, pending.source)
            actions.append(c.marker("ticket.reopened", at, summary or "Reopened", None))
            return actions + c.reactor.emit("reopened", at)
        if do == "emit":
            return c.reactor.emit(cast(EventName, step.event), at, extra)
        if do == "count_recent_level":
            window = cast(timedelta, step.window)
            return [
                c.action(
                    "query.recent_level",
                    at,
                    summary
                    or f"Count level-{step.level} escalations in the last {human_duration(window)}",
                    None,
                    {
                        "level": step.level,
                        "window_seconds": window.total_seconds(),
                        "policy": c.policy.name,
                    },
                    key=key,
                )
            ]
        raise AssertionError(f"unhandled step {do}")

    def _handoff(
        self, pending: PendingStep, target: str | None, ctx: dict[str, Any]
    ) -> list[Action]:
        """A `handoff` step: its payload from the step's fields and the ticket;
        skipped (on record) if invalid."""
        c, step, at = self.ctx, pending.step, pending.due
        handoff = cast(str, step.handoff)  # `Step._needs`: a handoff step names its handoff
        spec = c.policy.handoffs[handoff]
        to = target or spec.to[0]
        fields = {k: render(v, ctx) if isinstance(v, str) else v for k, v in step.fields.items()}
        reason = render(step.reason, ctx) if step.reason else None
        if spec.reason_field and reason:
            fields.setdefault(spec.reason_field, reason)
        try:
            payload = validate_payload(handoff, spec, fields, payload_context(c))
        except PayloadError as exc:
            c.log(
                at,
                pending.source,
                "handoff.skipped",
                to,
                f"Handoff {handoff} not started: {exc}",
            )
            return []
        return self.handoffs.start(handoff, to, reason, payload, "ticketflow", at, pending.source)
