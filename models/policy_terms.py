"""The terms every part of a policy pack shares: the strict base model, the
duration type, the events clocks and rules react to, and conditions on
ticket facts. Kept apart so that each part of the schema (calendars,
coverage, steps, clocks, handoffs) can use them without importing another
part; models/policy.py assembles the parts into a `Policy`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from models.durations import format_duration, parse_duration

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]

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


# A condition on ticket facts: every key must match. A scalar means equality,
# a list means "one of", and a key ending in `!` negates (`stage!: closed`).
# Numeric facts accept `{gte: 3}` / `{lte: 1}`. In rules and steps,
# `open:<calendar>: true|false` tests whether that calendar is open right then.
Condition = dict[str, Any]
