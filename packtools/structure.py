"""Mistakes in the shape of an SOP: calendars, ladders, titles, templates.

A calendar with no open hours makes every business-time deadline on it
unreachable; a holiday on a day the calendar is closed anyway is usually a
typo in the date; a step listed after `do: close` never runs (a closed
ticket runs only audit rows); two clocks with one title are one line twice
on the board and in every alert; a template placeholder the engine does not
fill where the template is used is sent as an empty string to a customer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from engine.templates import FIELDS, fields_of
from models.policy import WEEKDAYS, CalendarSpec, Policy, Step
from packtools import vocabulary as vocab
from packtools.problems import Problem, did_you_mean

LineOf = Callable[[tuple], int]


def check_structure(p: Policy, line_of: LineOf) -> Iterator[Problem]:
    yield from _calendars(p)
    yield from _after_close(p)
    yield from _titles(p, line_of)
    yield from _placeholders(p)


# ------------------------------------------------------------------ calendars


def _open_days(weekly: dict) -> set[str]:
    return {day for day, windows in weekly.items() if windows}


def _weekly_on(cal: CalendarSpec, day: date) -> dict | None:
    """The dated variant's hours for that day, None when no variant covers it."""
    return next((v.weekly for v in cal.variants if v.from_ <= day <= v.to), None)


def _calendars(p: Policy) -> Iterator[Problem]:
    for name, cal in p.calendars.items():
        loc = ("calendars", name)
        if not _open_days(cal.weekly) and not any(_open_days(v.weekly) for v in cal.variants):
            yield Problem(
                loc + ("weekly",),
                f"calendar {name!r} has no open hours: business time on it never "
                "passes and coverage on it never matches",
                'give it windows, e.g. weekly: {mon-fri: ["09:00-17:00"]}',
                kind="calendar-never-open",
                whole=True,
            )
        for i, v in enumerate(cal.variants):
            if v.to < v.from_:
                yield Problem(
                    loc + ("variants", i, "to"),
                    f"variant {v.name!r} ends ({v.to}) before it starts ({v.from_})",
                    "swap `from` and `to`",
                    kind="calendar-dates",
                )
        for i, day in enumerate(cal.holidays):
            weekly = _weekly_on(cal, day)
            if weekly is None and WEEKDAYS[day.weekday()] not in _open_days(cal.weekly):
                yield Problem(
                    loc + ("holidays", i),
                    f"holiday {day} is a {day.strftime('%A')}, when calendar "
                    f"{name!r} is closed anyway",
                    "a typo in the date? a holiday only matters on a day with open hours",
                    kind="holiday-closed-day",
                )
            others = [d for j, d in enumerate(cal.holidays) if j != i]
            if len(others) >= 2 and min(abs((d - day).days) for d in others) > 366:
                yield Problem(
                    loc + ("holidays", i),
                    f"holiday {day} is more than a year from every other "
                    f"holiday of {name!r} ({min(others)} .. {max(others)})",
                    "a typo in the year?",
                    kind="holiday-out-of-range",
                )


# ------------------------------------------------------------------ ladders


def _closes(step: Step) -> bool:
    return not step.when and (step.do == "close" or (step.do == "stage" and step.stage == "closed"))


def _after_close(p: Policy) -> Iterator[Problem]:
    for site in vocab.sites(p):
        c = next((i for i, s in enumerate(site.steps) if _closes(s)), None)
        if c is None:
            continue
        close = site.steps[c]
        for j, step in enumerate(site.steps):
            if j == c or step.do in ("audit", "resolve_pages"):
                continue
            if step.after > close.after or (step.after == close.after and j > c):
                yield Problem(
                    site.loc + (j,),
                    f"this `{step.do}` step never runs: step {c} of {site.label} "
                    "closes the ticket first, and a closed ticket runs only audit steps",
                    "move it before the close step, or give it a shorter `after`",
                    kind="after-close",
                )


def _titles(p: Policy, line_of: LineOf) -> Iterator[Problem]:
    first: dict[str, str] = {}
    for name, clock in p.clocks.items():
        key = clock.title.strip().lower()
        if key in first:
            other = first[key]
            yield Problem(
                ("clocks", name),
                f"clock {name!r} has the same title as clock {other!r} (line "
                f"{line_of(('clocks', other))}): {clock.title!r}",
                "give each clock its own title: people tell breaches apart by it",
                kind="duplicate-title",
                at_key=True,
            )
        else:
            first[key] = name


# ------------------------------------------------------------------ templates

_WHY_EMPTY = {
    **{f: "only a clock's breach ladder knows the clock" for f in ("clock", "deadline")},
    **{
        f: "only a handoff's steps and rules on escalated / handoff_* know the handoff"
        for f in ("reason", "handoff_title", "payload")
    },
    **{
        f: "the handoff payloads have no field it is read from (see PAYLOAD_FIELDS)"
        for f in vocab.PAYLOAD_FIELDS
    },
    "by": "only events someone does (a reply, an escalation, a resolution ...) know who did it",
    "timeframe": "nothing sets the `timeframe` fact and this is not a clock or a handoff",
    "level_name": "the pack has no `levels:`",
    **{
        f: f"no classification or `facts:` sets the fact {f!r}"
        for f in vocab.FACT_FIELDS - {"timeframe"}
    },
    **{f: "the step has no target and nothing starts a handoff" for f in vocab.TARGET_FIELDS},
}


def _placeholders(p: Policy) -> Iterator[Problem]:
    missing: dict[tuple[str, str], list[str]] = defaultdict(list)
    for site in vocab.sites(p):
        for j, step in enumerate(site.steps):
            have = vocab.template_fields(p, site, step)
            texts: list[tuple[tuple[str, ...], Any]] = [
                ((attr,), getattr(step, attr)) for attr in ("summary", "label", "reason")
            ]
            texts += [(("fields", k), v) for k, v in step.fields.items() if isinstance(v, str)]
            for sub, text in texts:
                for f in _fields(text):
                    if f in FIELDS and f not in have:
                        yield _empty(site.loc + (j,) + sub, f, f"{site.label}, step {j}")
            if step.template in p.templates:
                for f in _fields(p.templates[step.template]):
                    if (
                        f in FIELDS
                        and f not in have
                        and site.label not in missing[(step.template, f)]
                    ):
                        missing[(step.template, f)].append(site.label)
    for (name, f), where in missing.items():
        yield _empty(("templates", name), f, ", ".join(where))
    for name, text in p.templates.items():
        for f in _fields(text):
            if f not in FIELDS:
                yield Problem(
                    ("templates", name),
                    f"unknown placeholder {{{f}}}",
                    did_you_mean(f, FIELDS, "fields"),
                    kind="unknown-placeholder",
                    needle="{" + f,
                )


def _fields(text: str | None) -> list[str]:
    try:
        return fields_of(text) if text else []
    except ValueError:
        return []  # the loader's own check reports a template that does not parse


def _empty(loc: tuple, f: str, where: str) -> Problem:
    return Problem(
        loc,
        f"{{{f}}} is always empty where this is used: {where}",
        _WHY_EMPTY.get(f, ""),
        kind="empty-placeholder",
        needle="{" + f,
    )
