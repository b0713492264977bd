"""Working hours in a policy pack: weekly windows in an IANA zone, dated
variants, holidays and an intake cutoff. The business-time clock
(engine/business_time.py) counts along these calendars, and coverage and
clocks name them by id.
"""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_validator

from models.policy_terms import _Strict
from models.timezones import zone

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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
