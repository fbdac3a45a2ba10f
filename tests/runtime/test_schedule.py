"""Issue #8: activity-plan occasions in Europe/Stockholm time, property-based.

Properties hold for any start date, weekdays, times (including the hour that summer
time skips or repeats), repeat interval and window: occasions fall on the listed
weekdays at the listed wall-clock times, only in every N-th week from the start
week, never before the start; they are strictly increasing and complete; each one
is found again from its instant; its window spans whole local days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.schedule import (
    WEEKDAYS,
    Schedule,
    find_occasion,
    iter_occasions,
    occasions_between,
    open_occasions,
    parse_occasion_key,
)

TZ = ZoneInfo("Europe/Stockholm")
# Dates around the summer-time changes are drawn often: the last Sundays of March and October.
DST_DAYS = [date(y, m, d) for y, m, d in ((2025, 3, 30), (2025, 10, 26), (2026, 3, 29), (2026, 10, 25),
                                         (2027, 3, 28), (2027, 10, 31))]

start_dates = st.one_of(st.dates(date(2024, 1, 1), date(2030, 12, 31)),
                        st.sampled_from(DST_DAYS).flatmap(lambda d: st.integers(-20, 3).map(lambda k: d +
                                                                                             timedelta(days=k))))
times = st.one_of(st.times().map(lambda t: t.replace(second=0, microsecond=0)),
                  st.integers(0, 59).map(lambda m: time(2, m)))
schedules = st.builds(
    Schedule,
    start_date=start_dates,
    repeat_every_weeks=st.integers(1, 6),
    days=st.dictionaries(st.sampled_from(WEEKDAYS), times.map(lambda t: f"{t.hour:02d}:{t.minute:02d}"),
                         min_size=1, max_size=7),
    window_days=st.integers(0, 10),
)
PROPERTIES = settings(max_examples=100, deadline=None, derandomize=True, database=None)


def first(schedule: Schedule, n: int):
    out = []
    for occ in iter_occasions(schedule, TZ):
        out.append(occ)
        if len(out) == n:
            break
    assert len(out) == n, "iter_occasions is endless for a schedule with days"  # else the loops check nothing
    return out


def wall_time_exists(day: date, at: time) -> bool:
    local = datetime.combine(day, at, tzinfo=TZ)
    return local.astimezone(UTC).astimezone(TZ).replace(tzinfo=None) == local.replace(tzinfo=None)


@PROPERTIES
@given(schedules)
def test_occasions__weekday_week_and_wall_time(schedule: Schedule):
    slots = {WEEKDAYS.index(d): time.fromisoformat(t) for d, t in schedule.days.items()}
    monday = schedule.start_date - timedelta(days=schedule.start_date.weekday())
    for occ in first(schedule, 40):
        day = occ.local.date()
        assert day >= schedule.start_date
        assert day.weekday() in slots
        assert ((day - monday).days // 7) % schedule.repeat_every_weeks == 0
        wanted = slots[day.weekday()]
        if wall_time_exists(day, wanted):
            assert occ.local.time() == wanted
        else:  # the hour summer time skips: moved forward by the gap
            assert occ.local.time() == (datetime.combine(day, wanted) + timedelta(hours=1)).time()
        assert occ.at.tzinfo == UTC and occ.local.utcoffset() in (timedelta(hours=1), timedelta(hours=2))


@PROPERTIES
@given(schedules)
def test_occasions__strictly_increasing_and_complete(schedule: Schedule):
    occasions = first(schedule, 60)
    instants = [o.at for o in occasions]
    assert instants == sorted(instants) and len(set(instants)) == len(instants)
    # Every cycle of N weeks after the start week has exactly one occasion per listed weekday.
    monday = schedule.start_date - timedelta(days=schedule.start_date.weekday())
    cycle = timedelta(weeks=schedule.repeat_every_weeks)
    start = datetime.combine(monday + cycle, time(0), tzinfo=TZ).astimezone(UTC)
    end = datetime.combine(monday + 3 * cycle, time(0), tzinfo=TZ).astimezone(UTC)
    assert len(occasions_between(schedule, TZ, start, end)) == 2 * len(schedule.days)


@PROPERTIES
@given(schedules)
def test_occasions__found_again_and_windows_are_whole_local_days(schedule: Schedule):
    for occ in first(schedule, 20):
        assert find_occasion(schedule, TZ, occ.at) == occ
        assert parse_occasion_key(occ.key) == occ.at
        assert find_occasion(schedule, TZ, occ.at + timedelta(minutes=1)) is None
        opens, closes = occ.opens_at.astimezone(TZ), occ.closes_at.astimezone(TZ)
        assert opens.time() == time(0) and closes.time() == time(0)
        assert opens.date() == occ.local.date()
        assert (closes.date() - opens.date()).days == schedule.window_days + 1
        assert occ.status(occ.opens_at - timedelta(seconds=1)) == "early"
        assert occ.status(occ.opens_at) == "open" and occ.status(occ.at) == "open"
        assert occ.status(occ.closes_at - timedelta(seconds=1)) == "open"
        assert occ.status(occ.closes_at) == "late"


@PROPERTIES
@given(schedules, st.integers(0, 24 * 60 * 120))
def test_open_occasions__exactly_those_whose_window_holds_now(schedule: Schedule, minutes: int):
    now = datetime.combine(schedule.start_date, time(0), tzinfo=TZ).astimezone(UTC) + timedelta(minutes=minutes)
    opened = open_occasions(schedule, TZ, now)
    assert all(o.status(now) == "open" for o in opened)
    horizon = now + timedelta(days=schedule.window_days + 2)
    everything = occasions_between(schedule, TZ, datetime(2000, 1, 1, tzinfo=UTC), horizon)
    assert [o for o in everything if o.status(now) == "open"] == opened


def test_spring_forward__skipped_hour_moves_forward_and_evening_shifts_an_hour_in_utc():
    schedule = Schedule(date(2026, 3, 23), 1, {"söndag": "02:30", "lördag": "20:00", "måndag": "20:00"}, 0)
    occ = {o.local.date(): o for o in first(schedule, 6)}
    sunday = occ[date(2026, 3, 29)]
    assert sunday.local.time() == time(3, 30) and sunday.at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert occ[date(2026, 3, 28)].at == datetime(2026, 3, 28, 19, 0, tzinfo=UTC)  # 20:00 CET
    assert occ[date(2026, 3, 30)].at == datetime(2026, 3, 30, 18, 0, tzinfo=UTC)  # 20:00 CEST
    # The day of the change has 23 hours: its window is 23 hours long.
    assert sunday.closes_at - sunday.opens_at == timedelta(hours=23)


def test_fall_back__repeated_hour_is_the_first_and_the_day_has_25_hours():
    schedule = Schedule(date(2026, 10, 19), 1, {"söndag": "02:30"}, 0)
    [occ] = first(schedule, 1)
    assert occ.local.date() == date(2026, 10, 25)
    assert occ.at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, before the clocks go back
    assert occ.closes_at - occ.opens_at == timedelta(hours=25)


def test_every_four_weeks_from_the_start_week():
    schedule = Schedule(date(2026, 3, 4), 4, {"måndag": "09:00", "torsdag": "09:00"}, 7)
    days = [o.local.date() for o in first(schedule, 4)]
    # The start week's Monday (2 March) is before the start date, its Thursday is not.
    assert days == [date(2026, 3, 5), date(2026, 3, 30), date(2026, 4, 2), date(2026, 4, 27)]
