"""Period boundaries: properties over 1970-2100 in DST zones, plus worked examples."""

from __future__ import annotations

import calendar
import functools
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from quota_watch.collect.periods import _calendar, current_period, next_reset, previous_period
from quota_watch.sdk import Period, PeriodKind, PeriodSpec

ZONES = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Apia",
    "America/Havana",
]
FIRST = datetime(1970, 1, 1, tzinfo=UTC)
LAST = datetime(2100, 12, 31, tzinfo=UTC)
TICK = timedelta(microseconds=1)
HOUR = timedelta(hours=1)
CALENDAR_KINDS = (PeriodKind.DAILY, PeriodKind.CALENDAR_MONTH, PeriodKind.BILLING_CYCLE)
PROPERTY_SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A UTC datetime from its fields."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(zone: str, year: int, month: int, day: int, hour: int = 0) -> datetime:
    """The UTC instant of a (valid, unambiguous) wall-clock time in `zone`."""
    return datetime(year, month, day, hour, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def wall(instant: datetime, zone: str) -> datetime:
    """The naive wall-clock time of `instant` in `zone`."""
    return instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


# --- an independent oracle: no bisection, just the wall clock either side of an instant ------


def is_local_start(instant: datetime, day: date, zone: str) -> bool:
    """Whether `instant` is where `day` begins in `zone`.

    That is the first instant whose wall clock reads at least `day` 00:00: the wall clock just
    before it is earlier than midnight, and at it reads midnight exactly, or later only because
    the offset changed right there (a gap swallowed midnight).
    """
    midnight = datetime.combine(day, time())
    before, at = wall(instant - TICK, zone), wall(instant, zone)
    if not before < midnight <= at:
        return False
    offset_changed = (instant - TICK).astimezone(ZoneInfo(zone)).utcoffset() != instant.astimezone(
        ZoneInfo(zone)
    ).utcoffset()
    return at == midnight or offset_changed


def add_months(day: date, months: int) -> tuple[int, int]:
    """(year, month) `months` after `day`'s month."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    return year, month0 + 1


def anchored(year: int, month: int, anchor: int) -> date:
    """The anchor day of a month, clamped to its last day."""
    return date(year, month, min(anchor, calendar.monthrange(year, month)[1]))


def expected_days(spec: PeriodSpec, at: datetime) -> tuple[date, date]:
    """The local dates on which the period holding `at` starts and the next one starts."""
    today = wall(at, spec.tz).date()
    if spec.kind is PeriodKind.DAILY:
        return today, today + timedelta(days=1)
    if spec.kind is PeriodKind.CALENDAR_MONTH:
        return today.replace(day=1), date(*add_months(today, 1), 1)
    assert spec.anchor_day is not None
    this = anchored(today.year, today.month, spec.anchor_day)
    if today >= this:
        return this, anchored(*add_months(today, 1), spec.anchor_day)
    return anchored(*add_months(today, -1), spec.anchor_day), this


# --- strategies ---------------------------------------------------------------------------


@functools.cache
def transitions(zone: str) -> list[datetime]:
    """Every UTC-offset change of `zone` in 1970-2100, to the second (scan by day, then bisect)."""
    tz = ZoneInfo(zone)
    found: list[datetime] = []
    previous = FIRST
    while previous < LAST:
        following = previous + timedelta(days=1)
        if previous.astimezone(tz).utcoffset() != following.astimezone(tz).utcoffset():
            low, high = previous, following
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if middle.astimezone(tz).utcoffset() == low.astimezone(tz).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high)
        previous = following
    return found


def uniform_instants() -> st.SearchStrategy[datetime]:
    """Any instant in 1970-2100."""
    return st.datetimes(
        min_value=FIRST.replace(tzinfo=None), max_value=LAST.replace(tzinfo=None)
    ).map(lambda moment: moment.replace(tzinfo=UTC))


@st.composite
def month_edge_instants(draw: st.DrawFn, zone: str) -> datetime:
    """Instants whose local date is near a month end or start, or on Feb 29 of a leap year."""
    year = draw(st.integers(1970, 2100))
    month = draw(st.integers(1, 12))
    last = calendar.monthrange(year, month)[1]
    day = draw(st.sampled_from([1, 2, 27, 28, last - 1, last]))
    if draw(st.booleans()) and calendar.isleap(year):
        month, day = 2, 29
    clock = draw(st.times())
    fold = draw(st.integers(0, 1))
    moment = datetime.combine(date(year, month, day), clock).replace(
        tzinfo=ZoneInfo(zone), fold=fold
    )
    return moment.astimezone(UTC)


@st.composite
def transition_instants(draw: st.DrawFn, zone: str) -> datetime:
    """Instants within two days of one of the zone's offset changes."""
    changes = transitions(zone)
    if not changes:
        return draw(uniform_instants())
    change = draw(st.sampled_from(changes))
    shift = draw(st.integers(-2 * 86400, 2 * 86400))
    return change + timedelta(seconds=shift, microseconds=draw(st.sampled_from([0, 1, 999_999])))


def instants(zone: str) -> st.SearchStrategy[datetime]:
    """Instants in 1970-2100, weighted towards month edges and DST transitions of `zone`."""
    return st.one_of(uniform_instants(), month_edge_instants(zone), transition_instants(zone))


@st.composite
def calendar_cases(draw: st.DrawFn) -> tuple[PeriodSpec, datetime]:
    """A daily, calendar-month or billing-cycle spec in a test zone, and an instant."""
    zone = draw(st.sampled_from(ZONES))
    kind = draw(st.sampled_from(CALENDAR_KINDS))
    anchor = None
    if kind is PeriodKind.BILLING_CYCLE:
        anchor = draw(st.one_of(st.integers(1, 31), st.sampled_from([28, 29, 30, 31])))
    return PeriodSpec(kind=kind, tz=zone, anchor_day=anchor), draw(instants(zone))


# --- properties ---------------------------------------------------------------------------


def check_lengths(spec: PeriodSpec, period: Period) -> None:
    """Daily periods last 23-25h (30-min DST in Lord Howe), months and cycles 28-31 days +-1h."""
    assert period.start is not None
    assert period.end is not None
    length = period.end - period.start
    if spec.kind is PeriodKind.DAILY:
        assert timedelta(hours=23) <= length <= timedelta(hours=25)
        # Lord Howe used 1-hour DST until 1985 and 30 minutes since.
        if spec.tz == "Australia/Lord_Howe" and period.start.year >= 1986:
            assert timedelta(hours=23.5) <= length <= timedelta(hours=24.5)
        if spec.tz in ("UTC", "Asia/Kolkata"):
            assert length == timedelta(days=1)
    else:
        assert timedelta(days=28) - HOUR <= length <= timedelta(days=31) + HOUR


@PROPERTY_SETTINGS
@given(calendar_cases(), st.lists(st.integers(-90 * 24, 90 * 24), min_size=1, max_size=12))
def test_a_remembered_period_is_the_one_computed_afresh(
    case: tuple[PeriodSpec, datetime], hours: list[int]
) -> None:
    """Polls ask for the period of moments near each other, in any order: the period
    remembered from the one before is only given while it holds the moment."""
    spec, at = case
    for moment in (at + timedelta(hours=h, microseconds=h) for h in hours):
        assert current_period(spec, moment) == _calendar(spec, moment.astimezone(UTC))


@PROPERTY_SETTINGS
@given(calendar_cases())
@example((PeriodSpec(kind="daily", tz="Pacific/Apia"), utc(2011, 12, 30, 9, 59, 59)))
@example((PeriodSpec(kind="daily", tz="Pacific/Apia"), utc(2011, 12, 30, 10)))
@example(
    (PeriodSpec(kind="billing_cycle", anchor_day=30, tz="Pacific/Apia"), utc(2011, 12, 30, 10))
)
@example((PeriodSpec(kind="billing_cycle", anchor_day=31), utc(2024, 2, 29, 12)))
def test_calendar_periods(case: tuple[PeriodSpec, datetime]) -> None:
    """The period holds `at`, starts and ends at the right local midnights, and tiles time."""
    spec, at = case
    period = current_period(spec, at)
    assert period.start is not None
    assert period.end is not None
    assert period.start.tzinfo is UTC
    assert period.end.tzinfo is UTC
    assert period.start <= at < period.end
    assert at in period

    first_day, next_day = expected_days(spec, at)
    assert is_local_start(period.start, first_day, spec.tz)
    assert is_local_start(period.end, next_day, spec.tz)
    check_lengths(spec, period)

    assert next_reset(spec, at) == period.end
    following = current_period(spec, period.end)
    assert following.start == period.end
    assert current_period(spec, period.start) == period
    assert current_period(spec, period.end - TICK) == period

    before = previous_period(spec, at)
    assert before.end == period.start
    assert before.start is not None
    assert before.start < before.end
    assert current_period(spec, before.start) == before
    check_lengths(spec, before)

    # The same instant expressed in another zone gives the same answer.
    assert current_period(spec, at.astimezone(timezone(timedelta(hours=-7)))) == period


@PROPERTY_SETTINGS
@given(
    st.sampled_from(ZONES),
    st.integers(1, 31),
    st.integers(1970, 2100),
    st.integers(1, 12),
)
def test_billing_cycle_starts_on_clamped_anchor(
    zone: str, anchor: int, year: int, month: int
) -> None:
    """Each cycle starts on min(anchor, last day of month) at local midnight (or the gap's end)."""
    spec = PeriodSpec(kind="billing_cycle", anchor_day=anchor, tz=zone)
    start_day = anchored(year, month, anchor)
    at = datetime.combine(start_day, time(12)).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    if wall(at, zone).date() != start_day:
        return  # noon of that day did not exist (Apia's skipped 2011-12-30)
    period = current_period(spec, at)
    assert period.start is not None
    assert period.end is not None
    assert is_local_start(period.start, start_day, zone)
    assert is_local_start(period.end, anchored(*add_months(start_day, 1), anchor), zone)


@PROPERTY_SETTINGS
@given(
    st.sampled_from(ZONES),
    uniform_instants(),
    st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=400)),
)
def test_rolling_periods(zone: str, at: datetime, window: timedelta) -> None:
    """A rolling period is the window ending now; it never resets."""
    spec = PeriodSpec(kind="rolling", window=window, tz=zone)
    assert current_period(spec, at) == Period(at - window, at)
    assert previous_period(spec, at) == Period(at - 2 * window, at - window)
    assert next_reset(spec, at) is None


@PROPERTY_SETTINGS
@given(uniform_instants())
def test_none_periods(at: datetime) -> None:
    """A limit without a period has unbounded periods and never resets."""
    spec = PeriodSpec()
    assert current_period(spec, at) == Period(None, None)
    assert previous_period(spec, at) == Period(None, None)
    assert next_reset(spec, at) is None


# --- worked examples ----------------------------------------------------------------------


def cycle_starts(spec: PeriodSpec, at: datetime, count: int) -> list[datetime]:
    """Starts of `count` consecutive periods from the one holding `at`."""
    starts = []
    for _ in range(count):
        period = current_period(spec, at)
        assert period.start is not None
        assert period.end is not None
        starts.append(period.start)
        at = period.end
    return starts


def test_billing_anchor_31_clamps_and_returns() -> None:
    """Jan 31 -> Feb 28 -> Mar 31 -> Apr 30 -> May 31."""
    spec = PeriodSpec(kind="billing_cycle", anchor_day=31)
    assert cycle_starts(spec, utc(2023, 2, 10), 5) == [
        utc(2023, 1, 31),
        utc(2023, 2, 28),
        utc(2023, 3, 31),
        utc(2023, 4, 30),
        utc(2023, 5, 31),
    ]


def test_billing_anchor_31_leap_year() -> None:
    """In a leap year the February cycle starts on the 29th."""
    spec = PeriodSpec(kind="billing_cycle", anchor_day=31)
    assert cycle_starts(spec, utc(2024, 2, 10), 3) == [
        utc(2024, 1, 31),
        utc(2024, 2, 29),
        utc(2024, 3, 31),
    ]
    assert current_period(spec, utc(2024, 2, 28, 23, 59)) == Period(
        utc(2024, 1, 31), utc(2024, 2, 29)
    )


@pytest.mark.parametrize(
    ("year", "start"),
    [(2023, utc(2023, 2, 28)), (2024, utc(2024, 2, 29)), (2100, utc(2100, 2, 28))],
)
def test_billing_anchor_29(year: int, start: datetime) -> None:
    """Anchor 29 clamps to Feb 28 except in leap years (2100 is not one)."""
    spec = PeriodSpec(kind="billing_cycle", anchor_day=29)
    period = current_period(spec, utc(year, 3, 1))
    assert period == Period(start, utc(year, 3, 29))


def test_billing_before_anchor_belongs_to_previous_cycle() -> None:
    """On the 10th, a cycle anchored on the 15th started last month."""
    spec = PeriodSpec(kind="billing_cycle", anchor_day=15)
    assert current_period(spec, utc(2024, 3, 10)) == Period(utc(2024, 2, 15), utc(2024, 3, 15))
    assert current_period(spec, utc(2024, 3, 15)) == Period(utc(2024, 3, 15), utc(2024, 4, 15))
    assert previous_period(spec, utc(2024, 1, 5)) == Period(utc(2023, 11, 15), utc(2023, 12, 15))


def test_billing_cycle_in_local_time() -> None:
    """Billing cycles turn at local midnight of the anchor day."""
    spec = PeriodSpec(kind="billing_cycle", anchor_day=1, tz="America/New_York")
    period = current_period(spec, utc(2024, 3, 15))
    assert period == Period(utc(2024, 3, 1, 5), utc(2024, 4, 1, 4))


def test_daily_utc() -> None:
    """Daily periods are UTC days by default, half-open."""
    spec = PeriodSpec(kind="daily")
    assert current_period(spec, utc(2024, 2, 29, 23, 59, 59)) == Period(
        utc(2024, 2, 29), utc(2024, 3, 1)
    )
    assert current_period(spec, utc(2024, 3, 1)) == Period(utc(2024, 3, 1), utc(2024, 3, 2))
    assert next_reset(spec, utc(2024, 3, 1, 12)) == utc(2024, 3, 2)
    assert previous_period(spec, utc(2024, 3, 1, 12)) == Period(utc(2024, 2, 29), utc(2024, 3, 1))


def test_daily_new_york_dst() -> None:
    """New York's days are 23h when DST starts and 25h when it ends."""
    spec = PeriodSpec(kind="daily", tz="America/New_York")
    assert current_period(spec, utc(2024, 3, 10, 12)) == Period(
        utc(2024, 3, 10, 5), utc(2024, 3, 11, 4)
    )
    assert current_period(spec, utc(2024, 11, 3, 12)) == Period(
        utc(2024, 11, 3, 4), utc(2024, 11, 4, 5)
    )


def test_daily_santiago_midnight_gap() -> None:
    """Santiago springs forward at 00:00: the day starts at 01:00 local, the end of the gap."""
    spec = PeriodSpec(kind="daily", tz="America/Santiago")
    period = current_period(spec, utc(2023, 9, 3, 12))
    assert period == Period(utc(2023, 9, 3, 4), utc(2023, 9, 4, 3))
    assert period.start is not None
    assert wall(period.start, "America/Santiago") == datetime(2023, 9, 3, 1)
    assert current_period(spec, utc(2023, 9, 3, 3, 59, 59)).end == utc(2023, 9, 3, 4)


def test_daily_santiago_falls_back_at_midnight() -> None:
    """Santiago falls back from 24:00 to 23:00: the day before lasts 25 hours."""
    spec = PeriodSpec(kind="daily", tz="America/Santiago")
    assert current_period(spec, utc(2023, 4, 2, 3, 30)) == Period(
        utc(2023, 4, 1, 3), utc(2023, 4, 2, 4)
    )


def test_daily_havana_gap_and_ambiguous_midnight() -> None:
    """Havana jumps 00:00 -> 01:00 in March and repeats 00:00-01:00 in November."""
    spec = PeriodSpec(kind="daily", tz="America/Havana")
    assert current_period(spec, utc(2023, 3, 12, 12)).start == utc(2023, 3, 12, 5)
    # The repeated hour: both passes belong to Nov 5, which starts at the first midnight.
    first_pass = utc(2023, 11, 5, 4, 30)
    second_pass = utc(2023, 11, 5, 5, 30)
    assert wall(first_pass, "America/Havana") == wall(second_pass, "America/Havana")
    expected = Period(utc(2023, 11, 5, 4), utc(2023, 11, 6, 5))
    assert current_period(spec, first_pass) == expected
    assert current_period(spec, second_pass) == expected


def test_daily_beirut_midnight_gap() -> None:
    """Beirut used to spring forward at 00:00."""
    spec = PeriodSpec(kind="daily", tz="Asia/Beirut")
    assert current_period(spec, utc(2010, 3, 28, 12)).start == utc(2010, 3, 27, 22)


def test_daily_lord_howe_half_hour_dst() -> None:
    """Lord Howe's DST is 30 minutes: days of 24.5h and 23.5h."""
    spec = PeriodSpec(kind="daily", tz="Australia/Lord_Howe")
    autumn = current_period(spec, local("Australia/Lord_Howe", 2024, 4, 7, 12))
    spring = current_period(spec, local("Australia/Lord_Howe", 2024, 10, 6, 12))
    assert autumn.start is not None and autumn.end is not None
    assert spring.start is not None and spring.end is not None
    assert autumn.end - autumn.start == timedelta(hours=24.5)
    assert spring.end - spring.start == timedelta(hours=23.5)


def test_daily_apia_skipped_day() -> None:
    """Apia skipped 2011-12-30: Dec 29 ends where Dec 31 starts; no instant is in Dec 30."""
    spec = PeriodSpec(kind="daily", tz="Pacific/Apia")
    dec29 = Period(utc(2011, 12, 29, 10), utc(2011, 12, 30, 10))
    dec31 = Period(utc(2011, 12, 30, 10), utc(2011, 12, 31, 10))
    assert current_period(spec, utc(2011, 12, 30, 9, 59, 59)) == dec29
    assert current_period(spec, utc(2011, 12, 30, 10)) == dec31
    assert previous_period(spec, utc(2011, 12, 30, 12)) == dec29
    assert next_reset(spec, utc(2011, 12, 30)) == utc(2011, 12, 30, 10)


def test_daily_toronto_gap_across_midnight() -> None:
    """Toronto jumped 23:30 -> 00:30 in 1919: the day starts at the gap's end, 00:30 local."""
    spec = PeriodSpec(kind="daily", tz="America/Toronto")
    period = current_period(spec, utc(1919, 3, 31, 12))
    assert period == Period(utc(1919, 3, 31, 4, 30), utc(1919, 4, 1, 4))
    assert previous_period(spec, utc(1919, 3, 31, 12)).end == utc(1919, 3, 31, 4, 30)


def test_daily_goose_bay_fall_back_across_midnight() -> None:
    """Goose Bay fell back 00:01 -> 23:01: the repeated minutes belong to the new day."""
    spec = PeriodSpec(kind="daily", tz="America/Goose_Bay")
    first_midnight = utc(1987, 10, 25, 3)
    repeated = utc(1987, 10, 25, 3, 30)  # the wall clock reads Oct 24, 23:30 again
    assert wall(repeated, "America/Goose_Bay").date() == date(1987, 10, 24)
    today = Period(first_midnight, utc(1987, 10, 26, 4))
    assert current_period(spec, repeated) == today
    assert current_period(spec, first_midnight - TICK) == Period(
        utc(1987, 10, 24, 3), first_midnight
    )
    assert previous_period(spec, repeated).end == first_midnight


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(available_timezones())),
    st.sampled_from(CALENDAR_KINDS),
    st.integers(1, 31),
    uniform_instants(),
)
def test_every_zone_tiles_time(zone: str, kind: PeriodKind, anchor: int, at: datetime) -> None:
    """In every zone of the tz database, periods hold `at`, are non-empty and tile time."""
    spec = PeriodSpec(
        kind=kind, tz=zone, anchor_day=anchor if kind is PeriodKind.BILLING_CYCLE else None
    )
    period = current_period(spec, at)
    assert period.start is not None
    assert period.end is not None
    assert period.start <= at < period.end
    assert current_period(spec, period.end).start == period.end
    before = previous_period(spec, at)
    assert before.start is not None
    assert before.end is not None
    assert before.start < before.end == period.start


def test_calendar_month_local() -> None:
    """Months turn at local midnight on the 1st, in UTC here and in London and Kolkata."""
    assert current_period(PeriodSpec(kind="calendar_month"), utc(2024, 2, 29, 23)) == Period(
        utc(2024, 2, 1), utc(2024, 3, 1)
    )
    london = PeriodSpec(kind="calendar_month", tz="Europe/London")
    assert current_period(london, utc(2024, 3, 31, 22, 59)) == Period(
        utc(2024, 3, 1), utc(2024, 3, 31, 23)
    )
    assert current_period(london, utc(2024, 3, 31, 23)).start == utc(2024, 3, 31, 23)
    kolkata = PeriodSpec(kind="calendar_month", tz="Asia/Kolkata")
    assert current_period(kolkata, utc(2024, 2, 10)) == Period(
        utc(2024, 1, 31, 18, 30), utc(2024, 2, 29, 18, 30)
    )
    assert previous_period(kolkata, utc(2024, 1, 10)) == Period(
        utc(2023, 11, 30, 18, 30), utc(2023, 12, 31, 18, 30)
    )


def test_year_boundaries() -> None:
    """December's periods end in January of the next year."""
    assert current_period(PeriodSpec(kind="calendar_month"), utc(1999, 12, 31, 23, 59)) == Period(
        utc(1999, 12, 1), utc(2000, 1, 1)
    )
    spec = PeriodSpec(kind="billing_cycle", anchor_day=20)
    assert current_period(spec, utc(2000, 1, 5)) == Period(utc(1999, 12, 20), utc(2000, 1, 20))


def test_rolling_example() -> None:
    """A 30-day rolling window ends now and does not reset."""
    spec = PeriodSpec(kind="rolling", window="30d")
    at = utc(2024, 3, 1, 12)
    assert current_period(spec, at) == Period(utc(2024, 1, 31, 12), at)
    assert next_reset(spec, at) is None


def test_input_in_another_zone_output_in_utc() -> None:
    """An aware non-UTC `at` is accepted; results are always UTC."""
    spec = PeriodSpec(kind="daily", tz="Asia/Kolkata")
    at = datetime(2024, 5, 1, 1, 0, tzinfo=ZoneInfo("Asia/Kolkata"))
    period = current_period(spec, at)
    assert period == Period(utc(2024, 4, 30, 18, 30), utc(2024, 5, 1, 18, 30))
    assert period.start is not None and period.start.tzinfo is UTC
    rolling = current_period(PeriodSpec(kind="rolling", window="1h"), at)
    assert rolling.end is not None and rolling.end.tzinfo is UTC


@pytest.mark.parametrize(
    "spec",
    [
        PeriodSpec(kind="daily"),
        PeriodSpec(kind="calendar_month"),
        PeriodSpec(kind="billing_cycle", anchor_day=3),
        PeriodSpec(kind="rolling", window="1d"),
        PeriodSpec(),
    ],
)
def test_naive_datetime_rejected(spec: PeriodSpec) -> None:
    """A naive `at` is an error for every kind and every function."""
    naive = datetime(2024, 1, 1)
    for function in (current_period, next_reset, previous_period):
        with pytest.raises(ValueError, match="timezone-aware"):
            function(spec, naive)
