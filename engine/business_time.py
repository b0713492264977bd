"""Business-time arithmetic on a `CalendarSpec`: is it open now, when does it
next open, what instant is N business minutes from t, how much business time
lies between two instants.

Every input and output is an aware datetime; the calendar's windows are
local wall-clock times in its IANA zone, turned into UTC per date, so
weekends, holidays, dated variants and daylight-saving changes (a 09:00
window is 09:00 local on both sides of a change) all come out right.
Pure functions: workflows call them with `workflow.now()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from models.policy import WEEKDAYS, CalendarSpec, TimeRange
from models.timezones import zone

_SEARCH_DAYS = 800  # a calendar closed for longer than this is an error


class CalendarNeverOpens(ValueError):
    pass


def _weekly_for(cal: CalendarSpec, day: date) -> dict[str, list[TimeRange]]:
    for variant in cal.variants:
        if variant.from_ <= day <= variant.to:
            return variant.weekly
    return cal.weekly


def _local(day: date, t: time, tzname: str) -> datetime:
    if t == time.max:  # "24:00": the next local midnight
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone(tzname))
    return datetime.combine(day, t, tzinfo=zone(tzname))


def windows_on(
    cal: CalendarSpec, day: date, *, intake: bool = False
) -> list[tuple[datetime, datetime]]:
    """Open windows of a local date, as UTC instants, in order. With
    `intake`, windows end at the calendar's cut-off."""
    if day in cal.holidays:
        return []
    out = []
    for rng in _weekly_for(cal, day).get(WEEKDAYS[day.weekday()], []):
        end_t = rng.end
        if intake and cal.cutoff is not None:
            end_t = min(end_t, cal.cutoff)
        start = _local(day, rng.start, cal.timezone).astimezone(UTC)
        end = _local(day, end_t, cal.timezone).astimezone(UTC)
        if end > start:
            out.append((start, end))
    return out


def _intervals_from(
    cal: CalendarSpec, t: datetime, *, intake: bool = False
) -> Iterator[tuple[datetime, datetime]]:
    """Open intervals that end after t, in order (clipped to start at t)."""
    day = t.astimezone(zone(cal.timezone)).date() - timedelta(days=1)
    for _ in range(_SEARCH_DAYS):
        for start, end in windows_on(cal, day, intake=intake):
            if end > t:
                yield max(start, t), end
        day += timedelta(days=1)
    raise CalendarNeverOpens(
        f"calendar in {cal.timezone} has no open time in {_SEARCH_DAYS} days after {t}"
    )


def _aware(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError("business-time functions need aware datetimes")
    return t.astimezone(UTC)


def is_open(cal: CalendarSpec, t: datetime, *, intake: bool = False) -> bool:
    t = _aware(t)
    local_day = t.astimezone(zone(cal.timezone)).date()
    for day in (local_day - timedelta(days=1), local_day):
        for start, end in windows_on(cal, day, intake=intake):
            if start <= t < end:
                return True
    return False


def next_open(cal: CalendarSpec, t: datetime, *, intake: bool = False) -> datetime:
    """t itself when open, else the instant the calendar next opens."""
    start, _ = next(_intervals_from(cal, _aware(t), intake=intake))
    return start


def add_business(cal: CalendarSpec, t: datetime, duration: timedelta) -> datetime:
    """The instant `duration` of open time after t. Zero returns t unchanged;
    a result that falls exactly on a closing time stays there."""
    t = _aware(t)
    if duration < timedelta(0):
        raise ValueError("duration must not be negative")
    if duration == timedelta(0):
        return t
    left = duration
    for start, end in _intervals_from(cal, t):
        span = end - start
        if left <= span:
            return start + left
        left -= span
    raise AssertionError("unreachable")  # _intervals_from raises first


def business_between(cal: CalendarSpec, a: datetime, b: datetime) -> timedelta:
    """Open time between a and b (zero when b <= a)."""
    a, b = _aware(a), _aware(b)
    total = timedelta(0)
    if b <= a:
        return total
    for start, end in _intervals_from(cal, a):
        if start >= b:
            break
        total += min(end, b) - start
    return total
