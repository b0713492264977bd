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

The parts live in their own modules (models/policy_terms.py,
policy_calendars.py, policy_coverage.py, policy_steps.py, policy_clocks.py,
policy_handoffs.py); this one assembles them into a `Policy` and re-exports
them, so `from models.policy import ClockSpec` keeps working.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator

from models.policy_calendars import WEEKDAYS as WEEKDAYS
from models.policy_calendars import CalendarSpec as CalendarSpec
from models.policy_calendars import CalendarVariant as CalendarVariant
from models.policy_calendars import ClockTime as ClockTime
from models.policy_calendars import TimeRange as TimeRange
from models.policy_calendars import Weekly as Weekly
from models.policy_clocks import ClockSpec as ClockSpec
from models.policy_coverage import CoverageRule as CoverageRule
from models.policy_coverage import Dimension as Dimension
from models.policy_coverage import DimensionValue as DimensionValue
from models.policy_coverage import Party as Party
from models.policy_handoffs import EscalationRoute as EscalationRoute
from models.policy_handoffs import HandoffSpec as HandoffSpec
from models.policy_handoffs import PayloadField as PayloadField
from models.policy_steps import RuleSpec as RuleSpec
from models.policy_steps import Step as Step
from models.policy_steps import StepAction as StepAction
from models.policy_terms import Condition as Condition
from models.policy_terms import Duration as Duration
from models.policy_terms import EventName as EventName
from models.policy_terms import RuleTrigger as RuleTrigger
from models.policy_terms import _Strict

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
    # A ticket started for a conversation that already had a history in
    # Chatwoot (models/adoption.py) sends a customer message that fell due
    # before it started only when the conversation was younger than this then:
    # at go-live, a customer whose conversation agents are handling gets no
    # acknowledgment an hour late. Messages due after the start are sent.
    adopt_messages_within: Duration = Field(
        timedelta(minutes=10),
        description="An adopted conversation older than this at its ticket's start gets "
        "no customer message that fell due before the start (recorded as missed).",
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
