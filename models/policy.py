"""The policy-pack schema: an SOP as data.

A pack (`policies/<name>.yaml`) holds calendars, people and teams, coverage,
classification, SLA clocks with breach ladders, event rules, handoff specs
and message templates. `engine.policy_loader` reads and cross-checks it;
this module only says what each part looks like.

Four SOPs run on this one schema, so nothing here is specific to one of
them: a VIP concierge (coverage by shift, authority table, typed handoffs),
a severity ladder (levels with time triggers), a ticket lifecycle (priority
SLAs, verification, auto-close) and an urgency-tier escalation (follow-up
cadence, silent tickets).
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from models.durations import format_duration, parse_duration
from models.timezones import zone

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Events a clock can start, stop or restart on, and rules can react to.
EventName = Literal[
    "ticket_opened",
    "acknowledged",  # explicit ack, or the first agent reply
    "agent_replied",  # any public agent reply
    "agent_replied_substantive",
    "customer_replied",
    "assigned",  # owner set or changed (triage)
    "classified",  # ask type / severity / category / urgency changed
    "escalated",  # a handoff started
    "handoff_acknowledged",
    "handoff_decided",
    "handoff_failed",
    "resolved",
    "reopened",
    "closed",
    "vip_set",
    "vip_removed",
    "status_pending",
    "level_changed",
    "level_counted",  # a count_recent_level step has its answer (fact recent_level_<n>_count)
]

# What a rule reacts to: an event, or `condition_met` -- the first moment (at
# open or after any later event) its `when` holds, once per ticket. That is
# how "at once" rules are written: a ticket raised to critical after it was
# created pages as surely as one created critical.
RuleTrigger = Literal[EventName, "condition_met"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _parse_time(value: object) -> object:
    if isinstance(value, str) and value.strip() == "24:00":
        return time.max
    return value


ClockTime = Annotated[time, BeforeValidator(_parse_time)]


class TimeRange(_Strict):
    """A window within one local day, `09:00-14:45` (end may be `24:00`)."""

    start: ClockTime
    end: ClockTime

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: object) -> object:
        if isinstance(value, str):
            parts = value.split("-")
            if len(parts) != 2:
                raise ValueError(f"expected 'HH:MM-HH:MM', got {value!r}")
            return {"start": parts[0].strip(), "end": parts[1].strip()}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.end <= self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")
        return self


def _expand_weekdays(value: object) -> object:
    """`{mon-fri: [...], sat: [...]}` -> one entry a weekday."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, windows in value.items():
        key = str(key).lower()
        if "-" in key:
            a, b = key.split("-", 1)
            if a not in WEEKDAYS or b not in WEEKDAYS:
                raise ValueError(f"unknown weekday range {key!r}")
            for d in WEEKDAYS[WEEKDAYS.index(a) : WEEKDAYS.index(b) + 1]:
                out[d] = windows
        elif key in WEEKDAYS:
            out[key] = windows
        else:
            raise ValueError(f"unknown weekday {key!r} (use mon..sun or ranges like mon-fri)")
    return out


Weekly = Annotated[dict[str, list[TimeRange]], BeforeValidator(_expand_weekdays)]


class CalendarVariant(_Strict):
    """Other weekly hours between two dates, inclusive (e.g. outside the school year)."""

    name: str
    from_: date = Field(alias="from")
    to: date
    weekly: Weekly


class CalendarSpec(_Strict):
    """A weekly schedule in an IANA zone, with dated variants and holidays.

    `cutoff` closes *intake* (new tickets routed to this calendar's person)
    at that local time each day, while the calendar stays open for work:
    Alicia works until 14:45 but takes no new VIP after 14:30.
    """

    timezone: str = Field(description="An IANA zone: `America/Chicago`, `Europe/London`.")
    weekly: Weekly = Field(
        description='Open windows by weekday: `{mon-fri: ["09:00-17:00"], sat: ["10:00-14:00"]}`.'
    )
    variants: list[CalendarVariant] = Field(
        default_factory=list, description="Other weekly hours between two dates."
    )
    holidays: list[date] = Field(default_factory=list, description="Closed all day (YYYY-MM-DD).")
    cutoff: ClockTime | None = Field(
        None,
        description='Local time ("14:30") after which the calendar takes no new '
        "tickets for intake, though it stays open for work.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value


class Party(_Strict):
    """A person or a team that can own, be paged or receive a handoff."""

    name: str = Field(description="The name people read: `Alicia Garrett`, `Tier 1 support`.")
    kind: Literal["person", "team"] = "person"
    chatwoot_agent_id: int | None = Field(
        None, description="The Chatwoot agent to assign (a person)."
    )
    chatwoot_team_id: int | None = Field(None, description="The Chatwoot team to assign (a team).")
    pagerduty: str | None = Field(
        None,
        description="The *name* of a routing key in settings "
        "(PAGERDUTY_ROUTING_KEYS), never the key itself.",
    )
    backup: str | None = Field(
        None, description="Who covers when this party does not answer (a person or team id)."
    )
    calendar: str | None = Field(
        None, description="When this party works (a calendar id; coverage and display)."
    )

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


# A condition on ticket facts: every key must match. A scalar means equality,
# a list means "one of", and a key ending in `!` negates (`stage!: closed`).
# Numeric facts accept `{gte: 3}` / `{lte: 1}`. In rules and steps,
# `open:<calendar>: true|false` tests whether that calendar is open right then.
Condition = dict[str, Any]


class CoverageRule(_Strict):
    """Who owns a new ticket: the first rule whose condition holds (and, with
    `calendar`, whose calendar is open for intake at that instant)."""

    owner: str = Field(description="The person or team id that owns the ticket.")
    when: Condition = Field(
        default_factory=dict, description="Facts that must hold, e.g. `{vip: true}`."
    )
    calendar: str | None = Field(None, description="Only while this calendar is open for intake.")


class DimensionValue(_Strict):
    """One value of a classification axis, and the facts it sets on the ticket."""

    labels: list[str] = Field(
        default_factory=list, description="Chatwoot labels that select this value."
    )
    facts: dict[str, Any] = Field(
        default_factory=dict,
        description="Facts this value sets, e.g. `{priority: high, timeframe: 12 hours}`.",
    )
    title: str | None = None


class Dimension(_Strict):
    """One classification axis (ask type, severity, category, urgency): read
    from a conversation custom attribute, or a label `prefix + value`, or a
    label listed under a value; else `default`."""

    attribute: str | None = Field(
        None, description="The Chatwoot conversation custom attribute to read."
    )
    label_prefix: str | None = Field(
        None, description="Labels `<prefix><value>` select a value, e.g. `severity:`."
    )
    default: str | None = Field(None, description="The value when nothing selects one.")
    values: dict[str, DimensionValue]


StepAction = Literal[
    "page",  # PagerDuty trigger to `target` (dedup key stable per ticket and ladder step)
    "resolve_pages",  # PagerDuty resolve for pages this clock/handoff raised
    "assign",  # Chatwoot assignment + owner change
    "label",
    "unlabel",
    "note",  # Chatwoot private note
    "message",  # Chatwoot public message (suppressed while the pack's `silent_when` holds)
    "status",  # Chatwoot status
    "stage",  # ticket stage (mirrored to Chatwoot as a custom attribute)
    "level",  # escalation level (never goes down)
    "handoff",  # start a handoff workflow
    "audit",  # a row in an audit table
    "close",
    "reopen",
    "count_recent_level",  # read other tickets' history: sets fact `recent_level_count`
    "emit",  # raise an event of this pack (e.g. to chain rules)
]


class Step(_Strict):
    """One action of a ladder or rule, `after` its trigger (breach, event)."""

    do: StepAction = Field(
        description="What the step does: page, note, message, assign, level, handoff, close ..."
    )
    after: Duration = Field(
        timedelta(0), description="Delay after the trigger (breach, event): `30m`, `4h`."
    )
    when: Condition = Field(default_factory=dict, description="Run only if these facts hold then.")
    # `target` names a party, or: owner, backup (of the owner when the step was
    # triggered), backup2 (backup's backup), handoff_target, secondary (of the
    # handoff), previous_owner, coverage (whoever coverage gives the ticket now).
    target: str | None = Field(
        None,
        description="A person or team id, or owner, backup, backup2, handoff_target, "
        "secondary, previous_owner, coverage.",
    )
    template: str | None = Field(None, description="A template id (note, message).")
    label: str | None = None
    status: Literal["open", "resolved", "pending", "snoozed"] | None = None
    stage: str | None = None
    level: int | None = None
    severity: Literal["critical", "error", "warning", "info"] = "critical"
    handoff: str | None = Field(None, description="The handoff id to start (do: handoff).")
    reason: str | None = Field(
        None, description="The handoff reason, for handoffs started by a step."
    )
    table: (
        Literal[
            "vip_concierge_action",
            "support_escalations",
            "founder_pull",
            "vip_flag_change",
            "decision_log",
        ]
        | None
    ) = None
    fields: dict[str, Any] = Field(default_factory=dict)
    event: EventName | None = Field(None, description="The event to raise (do: emit).")
    window: Duration | None = Field(None, description="count_recent_level: the look-back window.")
    summary: str | None = Field(
        None, description="A summary for people (Temporal Web UI, page text)."
    )

    @model_validator(mode="after")
    def _needs(self) -> Step:
        need = (
            {
                "page": ["target"],
                "assign": ["target"],
                "label": ["label"],
                "unlabel": ["label"],
                "note": ["template"],
                "message": ["template"],
                "status": ["status"],
                "stage": ["stage"],
                "level": ["level"],
                "handoff": ["handoff"],
                "audit": ["table"],
                "emit": ["event"],
                "count_recent_level": ["level", "window"],
            }[self.do]
            if self.do
            in {
                "page",
                "assign",
                "label",
                "unlabel",
                "note",
                "message",
                "status",
                "stage",
                "level",
                "handoff",
                "audit",
                "emit",
                "count_recent_level",
            }
            else []
        )
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"step '{self.do}' needs {', '.join(missing)}")
        return self


class ClockSpec(_Strict):
    """An SLA clock: runs from a start event until a stop event; when its
    deadline passes it breaches and walks `on_breach` (each step `after` the
    breach). `calendar` makes it count business time of that calendar.
    `repeat` re-arms it after each breach (a cadence: status check every 4h);
    `restart_on` pushes the deadline out again (customer update every 24h,
    reset by each agent reply).

    A start event *arms* the clock; it runs while `when` holds (and, for a
    `customer_facing` clock, while the ticket is not silent) and waits
    otherwise. A stop event ends it whether it runs or waits, so a later
    classification never revives a clock an agent already satisfied: it only
    moves the target of the one that runs (the priority variants of one SLA
    share `measure_from: ticket_opened`, so each re-derives its deadline
    from the same start). `classified`, `vip_set` and `vip_removed` in
    `starts_on` arm a clock that was never armed, never one that stopped."""

    title: str = Field(description="What people see on the board and in alerts; one per clock.")
    starts_on: list[EventName] = Field(description="Events that arm the clock.")
    stops_on: list[EventName] = Field(
        default_factory=list, description="Events that end it (an ack, a reply)."
    )
    restart_on: list[EventName] = Field(
        default_factory=list, description="Events that push its deadline out again."
    )
    when: Condition = Field(
        default_factory=dict, description="It runs while these facts hold, waits otherwise."
    )
    duration: Duration = Field(
        description="How long until it breaches: `30m`, `4h`, `1h30m`, `2d`."
    )
    calendar: str | None = Field(
        None, description="Count business time of this calendar instead of wall time."
    )
    # Count from the start event, or from the later moment its condition first
    # holds (default), or from when the ticket opened (a resolution SLA that
    # starts once the ask type is known; response SLAs by priority).
    measure_from: Literal["event", "ticket_opened"] = "event"
    # An SLA about engaging the customer: it never runs while the ticket is
    # silent (the pack's `silent_when`), so a legal ticket is not nagged.
    customer_facing: bool = False
    repeat: bool = Field(False, description="Re-arm after each breach (a cadence).")
    on_breach: list[Step] = Field(
        default_factory=list, description="The ladder walked when it breaches."
    )
    # Pages raised by this clock are resolved when it stops (an ack ends the alert).
    resolve_pages_on_stop: bool = True


class RuleSpec(_Strict):
    """On an event (and a condition), run steps: auto-ack on open, a label on
    acknowledgement, a continuity message on escalation."""

    on: RuleTrigger = Field(
        description="The event, or `condition_met`: once, the first time `when` holds."
    )
    when: Condition = Field(
        default_factory=dict, description="Facts (and the event's context) that must hold."
    )
    do: list[Step]


class PayloadField(_Strict):
    """One field of a handoff's typed payload."""

    type: Literal["int", "uuid", "bool", "text", "str", "enum", "number"]
    values: list[str] | None = Field(None, description="The allowed values (type: enum).")
    required: bool = True
    const: Any = Field(None, description="A value the field must have (vip_flag: true).")
    source: str | None = Field(
        None, description="Fill from the ticket when not given (e.g. conversation_id)."
    )

    @model_validator(mode="after")
    def _enum_values(self) -> PayloadField:
        if self.type == "enum" and not self.values:
            raise ValueError("enum fields need values")
        return self


class HandoffSpec(_Strict):
    """A typed handoff (the SOP's HANDOFF blocks): who to whom, the payload,
    what counts as success, the timeout and what happens on failure."""

    title: str
    from_: str | None = Field(
        default=None, alias="from", description="Who usually hands off (a person or team id)."
    )
    to: list[str] = Field(
        description="Allowed targets (person or team ids); the first is the default."
    )
    payload: dict[str, PayloadField] = Field(
        default_factory=dict, description="The typed fields the handoff carries."
    )
    reason_field: str | None = Field(
        None, description="The payload enum that holds the escalation reason."
    )
    success: Literal["acknowledged", "decision"] = "acknowledged"
    decisions: list[str] = Field(default_factory=list)
    timeout: Duration = Field(description="How long the target has to answer: `30m`, `4h`.")
    calendar: str | None = Field(
        None, description="Count the timeout in business time of this calendar."
    )
    # How the target hears of it, the moment it starts: assign, label, a
    # private note with the payload (`{payload}`), a page. Steps may use
    # `target: handoff_target`.
    on_start: list[Step] = Field(default_factory=list)
    on_failure: list[Step] = Field(default_factory=list)
    on_success: list[Step] = Field(default_factory=list)
    secondary: str | None = Field(
        None, description="The second target (usable in steps as `target: secondary`)."
    )

    @model_validator(mode="after")
    def _decisions(self) -> HandoffSpec:
        if self.success == "decision" and not self.decisions:
            raise ValueError("a decision handoff needs decisions")
        if self.reason_field and (
            self.reason_field not in self.payload or self.payload[self.reason_field].type != "enum"
        ):
            raise ValueError(
                f"reason_field {self.reason_field!r} must be an enum field of the payload"
            )
        return self


class EscalationRoute(_Strict):
    """Where an escalation reason goes: target and handoff spec."""

    target: str = Field(description="Who the reason escalates to (one of the handoff's `to`).")
    handoff: str = Field(description="The handoff id under `handoffs:`.")
    title: str | None = None


_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


class Policy(_Strict):
    """A ticketflow policy pack: one SOP as data (see docs and policies/)."""

    name: str = Field(
        description="The pack's id, a lowercase slug; the file is policies/<name>.yaml."
    )
    version: str = Field(
        description='Quoted, e.g. "2026-11-22.1"; tickets pin the version they started with.'
    )
    description: str = ""
    timezone: str = Field(description="The display zone for timelines (an IANA zone).")
    calendars: dict[str, CalendarSpec] = Field(
        default_factory=dict, description="Working hours by calendar id."
    )
    people: dict[str, Party] = Field(default_factory=dict, description="People by id.")
    teams: dict[str, Party] = Field(default_factory=dict, description="Teams by id.")
    coverage: list[CoverageRule] = Field(
        description="Who owns a new ticket: the first rule that matches; the last has no condition."
    )
    classification: dict[str, Dimension] = Field(
        default_factory=dict, description="Axes (ask type, severity ...) that set facts."
    )
    facts: dict[str, Any] = Field(
        default_factory=dict, description="Defaults for every ticket's facts."
    )
    clocks: dict[str, ClockSpec] = Field(default_factory=dict, description="SLA clocks by id.")
    rules: list[RuleSpec] = Field(default_factory=list, description="Steps to run on an event.")
    handoffs: dict[str, HandoffSpec] = Field(
        default_factory=dict, description="Typed handoffs by id."
    )
    escalations: dict[str, EscalationRoute] = Field(
        default_factory=dict, description="Escalation reason -> route."
    )
    levels: dict[int, str] = Field(
        default_factory=dict, description="Escalation level names: `{1: Support lead}`."
    )
    templates: dict[str, str] = Field(
        default_factory=dict, description="Message templates with `{first_name}`-style fields."
    )
    # While this condition holds no public message is ever sent (security, legal, fraud).
    silent_when: Condition | None = Field(
        None, description="While this holds no public message is sent."
    )
    # Stages the ticket may be in, in lifecycle order (mirrored to Chatwoot).
    stages: list[str] = Field(
        default_factory=lambda: ["open", "acknowledged", "escalated", "resolved", "closed"]
    )
    mirror_stage_attribute: str | None = Field(
        None, description="The Chatwoot custom attribute that mirrors the stage."
    )
    # A ladder step that would notify people (page, message, note) more than
    # this long after it fell due is recorded as missed instead: a ticket
    # started long after its conversation (a backfill) must not page for an
    # SLA that expired months ago, while an outage's catch-up still fires.
    max_catch_up: Duration = Field(
        timedelta(hours=2),
        description="Notifying steps overdue by more are recorded as missed, not sent.",
    )

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("name must be a lowercase slug (letters, digits, - and _)")
        return value

    def party(self, pid: str) -> Party | None:
        return self.people.get(pid) or self.teams.get(pid)

    @property
    def party_ids(self) -> set[str]:
        return set(self.people) | set(self.teams)
