"""Business-time arithmetic: examples across weekends, holidays, cut-offs,
dated variants and the 2026 US daylight-saving changes, plus properties."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.business_time import add_business, business_between, is_open, next_open, windows_on
from models.policy import CalendarSpec
from models.timezones import zone

CT = zone("America/Chicago")
BUSINESS = CalendarSpec(
    timezone="America/Chicago", weekly={"mon-fri": ["09:00-17:00"]}, holidays=[date(2026, 11, 26)]
)
ALICIA = CalendarSpec(
    timezone="America/Chicago",
    weekly={"mon-fri": ["09:00-14:45"]},
    cutoff="14:30",
    variants=[
        {
            "name": "summer",
            "from": "2026-06-01",
            "to": "2026-08-16",
            "weekly": {"tue-thu": ["10:00-13:00"]},
        }
    ],
)


def ct(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CT)


def test_friday_afternoon_plus_four_business_hours_is_monday_eleven():
    assert add_business(BUSINESS, ct(2026, 11, 20, 15), timedelta(hours=4)) == ct(2026, 11, 23, 11)


def test_holiday_is_skipped():
    # Wed 2026-11-25 16:00 + 2h: 1h Wednesday, Thursday is Thanksgiving, 1h Friday
    assert add_business(BUSINESS, ct(2026, 11, 25, 16), timedelta(hours=2)) == ct(2026, 11, 27, 10)


def test_starting_when_closed_starts_at_next_open():
    assert add_business(BUSINESS, ct(2026, 11, 21, 12), timedelta(minutes=30)) == ct(
        2026, 11, 23, 9, 30
    )
    assert next_open(BUSINESS, ct(2026, 11, 21, 12)) == ct(2026, 11, 23, 9)
    assert next_open(BUSINESS, ct(2026, 11, 23, 10)) == ct(2026, 11, 23, 10)


def test_result_on_closing_time_stays_there():
    assert add_business(BUSINESS, ct(2026, 11, 23, 9), timedelta(hours=8)) == ct(2026, 11, 23, 17)


@pytest.mark.parametrize(
    "start,expected",
    [
        # spring forward (2026-03-08, a Sunday): Fri 16:00 CST + 2h = Mon 10:00 CDT
        (ct(2026, 3, 6, 16), ct(2026, 3, 9, 10)),
        # fall back (2026-11-01, a Sunday): Fri 16:00 CDT + 2h = Mon 10:00 CST
        (ct(2026, 10, 30, 16), ct(2026, 11, 2, 10)),
    ],
)
def test_daylight_saving_changes_keep_local_hours(start, expected):
    got = add_business(BUSINESS, start, timedelta(hours=2))
    assert got == expected and got.astimezone(CT).hour == 10


def test_dst_week_windows_are_eight_real_hours():
    for day in (date(2026, 3, 9), date(2026, 11, 2)):
        [(s, e)] = windows_on(BUSINESS, day)
        assert e - s == timedelta(hours=8)


def test_intake_cutoff_and_variants():
    assert is_open(ALICIA, ct(2026, 11, 17, 14, 35))
    assert not is_open(ALICIA, ct(2026, 11, 17, 14, 35), intake=True)
    assert is_open(ALICIA, ct(2026, 11, 17, 14, 29), intake=True)
    assert not is_open(ALICIA, ct(2026, 7, 14, 9, 30))  # summer variant: 10:00-13:00 Tue-Thu
    assert is_open(ALICIA, ct(2026, 7, 14, 10, 30))
    assert not is_open(ALICIA, ct(2026, 7, 13, 10, 30))  # a Monday in summer


def test_24_hour_windows():
    always = CalendarSpec(timezone="America/New_York", weekly={"mon-sun": ["00:00-24:00"]})
    t = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # inside the repeated hour
    assert add_business(always, t, timedelta(hours=3)) == t + timedelta(hours=3)


instants = st.datetimes(
    min_value=datetime(2026, 1, 1),
    max_value=datetime(2027, 12, 31),
    timezones=st.just(UTC),
)
spans = st.integers(min_value=0, max_value=60 * 24 * 20).map(lambda m: timedelta(minutes=m))


@settings(max_examples=300, deadline=None)
@given(instants, spans)
def test_adding_then_measuring_gives_back_the_duration(t, d):
    end = add_business(BUSINESS, t, d)
    assert end >= t
    assert business_between(BUSINESS, t, end) == d


@settings(max_examples=300, deadline=None)
@given(instants, spans, spans)
def test_addition_composes(t, d1, d2):
    assert add_business(BUSINESS, add_business(BUSINESS, t, d1), d2) == add_business(
        BUSINESS, t, d1 + d2
    ) or d2 == timedelta(0)


@settings(max_examples=300, deadline=None)
@given(instants, spans)
def test_positive_results_land_in_open_time_or_on_its_edge(t, d):
    end = add_business(BUSINESS, t, d)
    if d > timedelta(0):
        assert is_open(BUSINESS, end - timedelta(microseconds=1))


@settings(max_examples=200, deadline=None)
@given(instants)
def test_next_open_is_open_and_nothing_open_before_it(t):
    n = next_open(BUSINESS, t)
    assert is_open(BUSINESS, n)
    assert business_between(BUSINESS, t, n) == timedelta(0)
