"""What a support lead compares between the pack in force and a draft, from
the actions each replay decided: breaches per clock, pages per person,
notes and customer messages, time to first page, pages after hours, the
page load by hour of week, and each ticket's outcome.

After hours: outside Monday to Friday 09:00-17:00 in the pack's time zone.

A ticket in shadow mode (engine/shadow.py) sent nothing: each call it
withheld counts here as the call it would have been (its page, note or
message), so a pack run in shadow compares with a draft as if it were live;
`withheld` says how many of a side's calls were only recorded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from statistics import quantiles

from dryrun.replay import Replay
from engine.shadow import WITHHELD
from models.actions import Action
from models.timezones import zone

PAGE = "pagerduty.trigger"
# What a ticket's outcome is made of: who was paged, told, assigned, escalated, and when.
OUTCOME = {
    PAGE,
    "chatwoot.message",
    "chatwoot.note",
    "chatwoot.assign",
    "slack.post",
    "email.send",
    "sla.breached",
    "ticket.level",
    "handoff.started",
    "handoff.failed",
    "handoff.completed",
    "message.suppressed",
    "ticket.closed",
}


def after_hours(at: datetime, tz) -> bool:
    local = at.astimezone(tz)
    return local.weekday() >= 5 or not 9 <= local.hour < 17


@dataclass
class Side:
    tickets: int = 0
    breaches: Counter = field(default_factory=Counter)  # clock -> breaches
    pages: Counter = field(default_factory=Counter)  # person -> pages
    notes: int = 0
    messages: int = 0
    slack_posts: int = 0
    emails: int = 0
    suppressed: int = 0
    withheld: int = 0  # calls a ticket in shadow mode recorded instead of making
    first_page: list[float] = field(
        default_factory=list
    )  # seconds from opening, paged tickets only
    after_hours: int = 0
    heat: Counter = field(default_factory=Counter)  # (weekday 0=Mon, hour) -> pages

    def add(self, r: Replay, tz) -> None:
        self.tickets += 1
        first: datetime | None = None
        for a in r.actions:
            kind = would(a)
            self.withheld += a.kind == WITHHELD
            if kind == "sla.breached":
                self.breaches[a.params.get("clock", "?")] += 1
            elif kind == PAGE:
                self.pages[a.target or "?"] += 1
                first = a.at if first is None or a.at < first else first
                local = a.at.astimezone(tz)
                self.heat[(local.weekday(), local.hour)] += 1
                self.after_hours += after_hours(a.at, tz)
            elif kind == "chatwoot.note":
                self.notes += 1
            elif kind == "chatwoot.message":
                self.messages += 1
            elif kind == "slack.post":
                self.slack_posts += 1
            elif kind == "email.send":
                self.emails += 1
            elif kind == "message.suppressed":
                self.suppressed += 1
        if first is not None:
            self.first_page.append(max((first - r.opened_at).total_seconds(), 0.0))

    def merge(self, other: Side) -> None:
        """Add another share of the tickets (a worker process's)."""
        self.tickets += other.tickets
        self.breaches += other.breaches
        self.pages += other.pages
        self.notes += other.notes
        self.messages += other.messages
        self.slack_posts += other.slack_posts
        self.emails += other.emails
        self.suppressed += other.suppressed
        self.withheld += other.withheld
        self.first_page += other.first_page
        self.after_hours += other.after_hours
        self.heat += other.heat

    def percentile(self, q: int) -> float | None:
        """p50 / p90 of the time to first page, in seconds."""
        xs = sorted(self.first_page)
        if not xs:
            return None
        if len(xs) == 1:
            return xs[0]
        return quantiles(xs, n=100, method="inclusive")[q - 1]

    def as_dict(self) -> dict:
        return {
            "tickets": self.tickets,
            "breaches": dict(sorted(self.breaches.items())),
            "pages": dict(sorted(self.pages.items())),
            "pages_total": sum(self.pages.values()),
            "notes": self.notes,
            "messages": self.messages,
            "slack_posts": self.slack_posts,
            "emails": self.emails,
            "suppressed_messages": self.suppressed,
            "withheld_in_shadow": self.withheld,
            "paged_tickets": len(self.first_page),
            "first_page_p50_s": self.percentile(50),
            "first_page_p90_s": self.percentile(90),
            "after_hours_pages": self.after_hours,
            "heat": {f"{d}-{h}": n for (d, h), n in sorted(self.heat.items())},
        }


def outcome(r: Replay, tz) -> Counter:
    """The ticket's outcome as a multiset of (what, who, local time to the second)."""
    kinds = ((would(a), a) for a in r.actions)
    return Counter(
        (kind, a.target or "", a.at.astimezone(tz).strftime("%a %Y-%m-%d %H:%M:%S"))
        for kind, a in kinds
        if kind in OUTCOME
    )


def would(a: Action) -> str:
    """The action's kind, or for a call withheld in shadow mode, the call's."""
    return str(a.params.get("would", a.kind)) if a.kind == WITHHELD else a.kind


@dataclass
class Change:
    workflow_id: str
    added: list[tuple[str, str, str]]
    removed: list[tuple[str, str, str]]
    url: str = ""

    def people(self) -> set[str]:
        return {who for kind, who, _ in self.added + self.removed if kind == PAGE and who}

    def as_dict(self) -> dict:
        fmt = lambda xs: [{"action": k, "target": t or None, "at": at} for k, t, at in xs]  # noqa: E731
        return {
            "ticket": self.workflow_id,
            "url": self.url,
            "added": fmt(self.added),
            "removed": fmt(self.removed),
        }


def change(current: Replay, draft: Replay, tz) -> Change | None:
    before, after = outcome(current, tz), outcome(draft, tz)
    if before == after:
        return None
    by_time = lambda x: (x[2][4:], x[0], x[1])  # noqa: E731  (the local instant, without its weekday)
    return Change(
        current.workflow_id,
        sorted((after - before).elements(), key=by_time),
        sorted((before - after).elements(), key=by_time),
    )


def tz_of(policy) -> object:
    return zone(policy.timezone)
