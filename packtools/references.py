"""Names that point nowhere: people and teams, events, facts, escalations.

The mistakes that load but never work: a step pages `lolla`, a clock stops
on an event no ticket of this pack will ever see, a `when` tests a fact
that nothing sets (so it is always None), an escalation reason routes to a
handoff that does not exist or whose payload refuses that very reason.
What exists is what the pack defines plus what the engine produces
(`packtools.vocabulary`); names are taken from the pack as written, so a
calendar cut out for a pydantic error is not also reported as unknown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.policy_loader import SPECIAL_TARGETS
from models.policy import Policy
from packtools import vocabulary as vocab
from packtools.problems import Problem, did_you_mean


@dataclass(frozen=True)
class Names:
    """What the pack defines, as written (before any pydantic error cut it)."""

    parties: frozenset[str]
    calendars: frozenset[str]
    handoffs: frozenset[str]
    templates: frozenset[str]

    @classmethod
    def of(cls, data: dict) -> Names:
        def keys(section: str) -> frozenset[str]:
            value = data.get(section)
            return frozenset(str(k) for k in value) if isinstance(value, dict) else frozenset()

        return cls(
            keys("people") | keys("teams"), keys("calendars"), keys("handoffs"), keys("templates")
        )


def check_references(p: Policy, names: Names) -> Iterator[Problem]:
    yield from _parties(p, names)
    yield from _calendars_and_handoffs(p, names)
    yield from _events(p)
    yield from _conditions(p, names)
    yield from _escalations(p, names)


def _party(loc: tuple, pid: str | None, names: Names, special: bool = False) -> Iterator[Problem]:
    if pid is None or pid in names.parties or (special and pid in SPECIAL_TARGETS):
        return
    known = set(names.parties) | (SPECIAL_TARGETS if special else set())
    yield Problem(
        loc,
        f"{pid!r} is named in no `people:` or `teams:`",
        did_you_mean(pid, known, "people and teams") + " (or add it under people: or teams:)",
        kind="unknown-party",
    )


def _parties(p: Policy, names: Names) -> Iterator[Problem]:
    for section, parties in (("people", p.people), ("teams", p.teams)):
        for pid, party in parties.items():
            yield from _party((section, pid, "backup"), party.backup, names)
    for i, rule in enumerate(p.coverage):
        yield from _party(("coverage", i, "owner"), rule.owner, names)
    for site in vocab.sites(p):
        for j, step in enumerate(site.steps):
            yield from _party(site.loc + (j, "target"), step.target, names, special=True)
    for name, h in p.handoffs.items():
        yield from _party(("handoffs", name, "from"), h.from_, names)
        for j, target in enumerate(h.to):
            yield from _party(("handoffs", name, "to", j), target, names)
        yield from _party(("handoffs", name, "secondary"), h.secondary, names)
    for reason, route in p.escalations.items():
        yield from _party(("escalations", reason, "target"), route.target, names)


def _calendars_and_handoffs(p: Policy, names: Names) -> Iterator[Problem]:
    refs: list[tuple[tuple, str | None]] = [
        ((section, pid, "calendar"), party.calendar)
        for section, parties in (("people", p.people), ("teams", p.teams))
        for pid, party in parties.items()
    ]
    refs += [(("coverage", i, "calendar"), r.calendar) for i, r in enumerate(p.coverage)]
    refs += [(("clocks", n, "calendar"), c.calendar) for n, c in p.clocks.items()]
    refs += [(("handoffs", n, "calendar"), h.calendar) for n, h in p.handoffs.items()]
    for loc, cal in refs:
        if cal is not None and cal not in names.calendars:
            yield Problem(
                loc,
                f"no calendar {cal!r} in `calendars:`",
                did_you_mean(cal, names.calendars, "calendars"),
                kind="unknown-calendar",
            )
    for site in vocab.sites(p):
        for j, step in enumerate(site.steps):
            if step.handoff is not None and step.handoff not in names.handoffs:
                yield Problem(
                    site.loc + (j, "handoff"),
                    f"no handoff {step.handoff!r} in `handoffs:`",
                    did_you_mean(step.handoff, names.handoffs, "handoffs"),
                    kind="unknown-handoff",
                )
            if step.template is not None and step.template not in names.templates:
                yield Problem(
                    site.loc + (j, "template"),
                    f"no template {step.template!r} in `templates:`",
                    did_you_mean(step.template, names.templates, "templates"),
                    kind="unknown-template",
                )


def _events(p: Policy) -> Iterator[Problem]:
    happen = vocab.event_sources(p)

    def never(loc: tuple, what: str, event: str) -> Iterator[Problem]:
        if event in happen or event == "condition_met":
            return
        why, hint = vocab.WHY_NEVER.get(event, ("nothing raises it", "use another event"))
        yield Problem(
            loc,
            f"{what} on {event!r}, which never happens in this pack: {why}",
            hint,
            kind="unknown-event",
        )

    for name, clock in p.clocks.items():
        for field, verb in (
            ("starts_on", "starts"),
            ("stops_on", "stops"),
            ("restart_on", "restarts"),
        ):
            for i, event in enumerate(getattr(clock, field)):
                yield from never(("clocks", name, field, i), f"this clock {verb}", event)
    for i, rule in enumerate(p.rules):
        yield from never(("rules", i, "on"), f"rules[{i}] runs", rule.on)


def conditions(p: Policy) -> Iterator[tuple[tuple, dict[str, Any], frozenset[str]]]:
    """Every `when` of the pack: (path, condition, context keys it also sees)."""
    none: frozenset[str] = frozenset()
    if p.silent_when:
        yield ("silent_when",), p.silent_when, none
    for i, cover in enumerate(p.coverage):
        yield ("coverage", i, "when"), cover.when, none
    for name, clock in p.clocks.items():
        yield ("clocks", name, "when"), clock.when, none
    emitted = {s.event for s in vocab.all_steps(p) if s.do == "emit"}
    for i, rule in enumerate(p.rules):
        yield (
            ("rules", i, "when"),
            rule.when,
            (vocab.ALL_CONTEXT if rule.on in emitted else vocab.EVENT_CONTEXT.get(rule.on, none)),
        )
    for site in vocab.sites(p):
        for j, step in enumerate(site.steps):
            yield site.loc + (j, "when"), step.when, site.context


def _conditions(p: Policy, names: Names) -> Iterator[Problem]:
    facts = vocab.fact_sources(p)
    for loc, cond, context in conditions(p):
        for key, expected in cond.items():
            name = key[:-1] if key.endswith("!") else key
            if name.startswith("open:"):
                cal = name.removeprefix("open:")
                if cal not in names.calendars:
                    yield Problem(
                        loc + (key,),
                        f"`when` tests {key!r}, but there is no calendar {cal!r}",
                        did_you_mean(cal, names.calendars, "calendars"),
                        kind="unknown-calendar",
                        at_key=True,
                    )
                continue
            if name not in facts and name not in context:
                known = set(facts) | set(context)
                yield Problem(
                    loc + (key,),
                    f"`when` tests fact {name!r}, which nothing in this pack sets "
                    "(so it is always empty)",
                    did_you_mean(name, known, "facts here")
                    + "; facts come from classification values, "
                    "the pack's `facts:` and the engine",
                    kind="unknown-fact",
                    at_key=True,
                )
                continue
            yield from _values(p, loc + (key,), name, expected, names)


def _values(p: Policy, loc: tuple, fact: str, expected: Any, names: Names) -> Iterator[Problem]:
    if isinstance(expected, dict):
        return
    items = list(enumerate(expected)) if isinstance(expected, list) else [(None, expected)]
    allowed = (
        names.parties
        if fact in vocab.PARTY_FACTS
        else names.handoffs
        if fact in ("handoff", "last_handoff")
        else vocab.fact_values(p, fact)
    )
    if allowed is None:
        return
    for i, value in items:
        if value is None or str(value) in allowed:
            continue
        where = loc if i is None else loc + (i,)
        yield Problem(
            where,
            f"fact {fact!r} is never {value!r} in this pack",
            did_you_mean(value, allowed, f"values of {fact}"),
            kind="unknown-value",
        )


def _escalations(p: Policy, names: Names) -> Iterator[Problem]:
    for reason, route in p.escalations.items():
        h = p.handoffs.get(route.handoff)
        if h is None:
            if route.handoff not in names.handoffs:
                yield Problem(
                    ("escalations", reason, "handoff"),
                    f"escalation reason {reason!r} has no handoff: "
                    f"{route.handoff!r} is not in `handoffs:`",
                    did_you_mean(route.handoff, names.handoffs, "handoffs"),
                    kind="unknown-handoff",
                )
            continue
        if route.target in names.parties and route.target not in h.to:
            yield Problem(
                ("escalations", reason, "target"),
                f"{route.target!r} is not a `to` of handoff {route.handoff!r}",
                f"add it to handoffs.{route.handoff}.to, or route to one of {', '.join(h.to)}",
                kind="unknown-party",
            )
        field = h.payload.get(h.reason_field) if h.reason_field else None
        if field is not None and field.values and reason not in field.values:
            yield Problem(
                ("escalations", reason),
                f"escalating for {reason!r} always fails: handoff "
                f"{route.handoff!r} takes {h.reason_field} in {', '.join(field.values)} only",
                f"add {reason!r} to handoffs.{route.handoff}.payload.{h.reason_field}.values",
                kind="escalation-reason",
                at_key=True,
            )
    for site in vocab.sites(p):
        for j, step in enumerate(site.steps):
            h = p.handoffs.get(step.handoff or "")
            if h is None or not h.reason_field:
                continue
            field = h.payload.get(h.reason_field)
            if (
                field is None
                or not step.reason
                or "{" in step.reason
                or step.reason in (field.values or [])
                or h.reason_field in step.fields
            ):
                continue
            yield Problem(
                site.loc + (j, "reason"),
                f"handoff {step.handoff!r} never starts with reason "
                f"{step.reason!r}: its {h.reason_field} takes {', '.join(field.values or [])}",
                did_you_mean(step.reason, field.values or [], "reasons"),
                kind="escalation-reason",
            )
