"""The ticket's facts, and the rules that fire on them.

Chatwoot speaks in ask types, labels and custom attributes; a pack speaks
in facts (`severity: critical`, `issue_type: fraud`). Classification turns
the one into the other, keeping what was classified before when a new
event says nothing about a dimension. Rules then read the facts: `on:
<event>` rules each time their event holds, and `condition_met` ("at once")
rules once per ticket, the first moment their condition holds -- whatever
event made it true, so a ticket raised to critical later pages as surely as
one created critical.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.conditions import holds
from engine.context import Rejected, TicketContext
from engine.ladder import Ladder


class FactsAndRules:
    def __init__(self, ctx: TicketContext, ladder: Ladder) -> None:
        self.ctx = ctx
        self.ladder = ladder

    def classify(
        self, ask_type: str | None, labels: list[str] | None, attrs: Mapping[str, Any] | None
    ) -> None:
        """Set each classification dimension (and the facts its value brings)
        from the ask type, a custom attribute or a label, in that order."""
        policy, facts = self.ctx.policy, self.ctx.state.facts
        labels = labels or []
        attrs = attrs or {}
        for dim_name, dim in policy.classification.items():
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
                        candidate = lab_l[len(dim.label_prefix) :]
                        if candidate in dim.values:
                            value = candidate
                            break
                    hit = next(
                        (
                            v
                            for v, spec in dim.values.items()
                            if lab_l in [x.lower() for x in spec.labels]
                        ),
                        None,
                    )
                    if hit:
                        value = hit
                        break
            if value is None and dim_name in facts:
                continue  # keep what was classified before
            value = value or dim.default
            if value is None:
                continue
            facts[dim_name] = value
            facts.update(dim.values[value].facts)

    def reclassify(
        self, ask_type: str | None, labels: list[str] | None, attrs: Mapping[str, Any] | None
    ) -> bool:
        """A later classification (Rejected for an unknown ask type); True if a fact changed."""
        if ask_type is not None:
            dim = self.ctx.policy.classification.get("ask_type")
            if dim is None or ask_type not in dim.values:
                known = ", ".join(sorted(dim.values)) if dim else "none"
                raise Rejected(f"unknown ask type {ask_type!r}; known: {known}")
        before = dict(self.ctx.state.facts)
        self.classify(ask_type, labels, attrs)
        return self.ctx.state.facts != before

    def run_rules(self, event: str, now: datetime, context: dict[str, Any]) -> None:
        """Schedule the `on: <event>` rules whose condition holds (they may
        also test the event's context)."""
        c = self.ctx
        event_facts = c.facts(context, at=now)
        for i, rule in enumerate(c.policy.rules):
            if rule.on == event and holds(rule.when, event_facts):
                self.ladder.schedule(
                    rule.do, f"rule:{i}", f"rule:{i}:{c.next_seq()}", now, c.state.owner, context
                )

    def fire_conditions(self, now: datetime) -> None:
        """`condition_met` rules: run once per ticket, the first time their
        condition holds, whatever event made it true."""
        c = self.ctx
        if c.closed:
            return
        facts = c.facts(at=now)
        for i, rule in enumerate(c.policy.rules):
            if (
                rule.on == "condition_met"
                and i not in c.state.fired_rules
                and holds(rule.when, facts)
            ):
                c.state.fired_rules.append(i)
                self.ladder.schedule(rule.do, f"rule:{i}", f"rule:{i}:once", now, c.state.owner, {})
