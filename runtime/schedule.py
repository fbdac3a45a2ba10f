"""Activity-plan occasions: when a patient is asked to register, and when they may.

Input: a schedule (start date, every N weeks, a time per Swedish weekday, the
registration window in days) and the time zone (Europe/Stockholm). Output:
occasions as aware UTC datetimes with their registration window.

Rules:
- Weeks are counted from the Monday of the start date's week; occasions fall in
  weeks 0, N, 2N, … on the listed weekdays at the listed local times, never before
  the start date.
- A local time that does not exist (the hour skipped when summer time begins) is
  moved forward by the gap (02:30 becomes 03:30); a time that happens twice (the hour
  repeated when summer time ends) is the first of the two. This is PEP 495's fold=0.
- An occasion may be registered from the start of its local day until the end of the
  local day `window_days` days later. Registering before is "too early", after "too late".

Must not: use the server's local time zone; every instant is explicit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from runtime.i18n import Day, Moment

WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")


#: The start dates a plan may have (issue 14): far enough either way for any real plan, and far from
#: the ends of the calendar, where the occasions' arithmetic would overflow.
EARLIEST_START = date(2000, 1, 1)
LATEST_START = date(2099, 12, 31)


def start_in_range(day: date) -> bool:
    """Whether a plan start date is plausible (EARLIEST_START..LATEST_START)."""
    return EARLIEST_START <= day <= LATEST_START


@dataclass(frozen=True)
class Schedule:
    """A plan's schedule for one patient."""

    start_date: date
    repeat_every_weeks: int
    days: Mapping[str, str]  # Swedish weekday -> "HH:MM"
    window_days: int = 0

    def slots(self) -> list[tuple[int, time]]:
        """(weekday index, local time) pairs, sorted."""
        out = []
        for day, hhmm in self.days.items():
            hours, minutes = hhmm.split(":")
            out.append((WEEKDAYS.index(day), time(int(hours), int(minutes))))
        return sorted(out)


@dataclass(frozen=True)
class Occasion:
    """One scheduled occasion and its registration window."""

    at: datetime  # the scheduled instant, UTC
    local: datetime  # the same instant in the plan's time zone
    opens_at: datetime  # UTC: start of the occasion's local day
    closes_at: datetime  # UTC: end of the last local day of the window

    @property
    def key(self) -> str:
        """A stable identifier of the occasion: its UTC time, ISO 8601 with Z."""
        return occasion_key(self.at)

    def status(self, now: datetime) -> str:
        """"early", "open" or "late" for a registration at `now`."""
        if now < self.opens_at:
            return "early"
        if now >= self.closes_at:
            return "late"
        return "open"


def occasion_key(at: datetime) -> str:
    """ISO 8601 UTC with a Z, seconds precision: the form field that names an occasion."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_occasion_key(text: str) -> datetime | None:
    """The instant an occasion key names, or None when it is not one."""
    try:
        parsed = datetime.strptime(text.strip(), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
    if not EARLIEST_START.year <= parsed.year <= LATEST_START.year + 1:
        return None  # no plan has an occasion then (issue 14: year 9999 overflowed)
    return parsed.replace(tzinfo=UTC)


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time on a date (gaps forward, repeats first)."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return local_instant(day, time(0, 0), tz)


def make_occasion(day: date, at: time, schedule: Schedule, tz: ZoneInfo) -> Occasion:
    """The occasion on a local date at a local time, with its window."""
    instant = local_instant(day, at, tz)
    return Occasion(instant, instant.astimezone(tz), _midnight(day, tz),
                    _midnight(day + timedelta(days=schedule.window_days + 1), tz))


def iter_occasions(schedule: Schedule, tz: ZoneInfo) -> Iterator[Occasion]:
    """Every occasion from the start date on, in time order (an endless iterator)."""
    slots = schedule.slots()
    if not slots:
        return
    monday = schedule.start_date - timedelta(days=schedule.start_date.weekday())
    week = 0
    while True:
        base = monday + timedelta(weeks=week)
        for weekday, at in slots:
            day = base + timedelta(days=weekday)
            if day >= schedule.start_date:
                yield make_occasion(day, at, schedule, tz)
        week += schedule.repeat_every_weeks


def occasions_between(schedule: Schedule, tz: ZoneInfo, start: datetime, end: datetime) -> list[Occasion]:
    """Occasions scheduled at or after `start` and before `end` (UTC instants)."""
    out = []
    for occ in iter_occasions(schedule, tz):
        if occ.at >= end:
            break
        if occ.at >= start:
            out.append(occ)
    return out


def open_occasions(schedule: Schedule, tz: ZoneInfo, now: datetime) -> list[Occasion]:
    """Occasions that can be registered at `now` (their window holds `now`)."""
    out = []
    for occ in iter_occasions(schedule, tz):
        if occ.opens_at > now:
            break
        if occ.status(now) == "open":
            out.append(occ)
    return out


def find_occasion(schedule: Schedule, tz: ZoneInfo, at: datetime) -> Occasion | None:
    """The occasion scheduled exactly at `at`, or None when the schedule has none then."""
    local_day = at.astimezone(tz).date()
    if local_day < schedule.start_date:
        return None
    # A moved-forward gap time may land on the same date only; search that date's slots.
    monday = schedule.start_date - timedelta(days=schedule.start_date.weekday())
    weeks = (local_day - monday).days // 7
    if weeks % schedule.repeat_every_weeks:
        return None
    for weekday, slot in schedule.slots():
        if weekday == local_day.weekday():
            occ = make_occasion(local_day, slot, schedule, tz)
            if occ.at == at:
                return occ
    return None


def format_day(day: date) -> str:
    """"måndag 2 mars 2026" (in the reader's language where a patient's page shows it: runtime.i18n)."""
    return Day(day, weekday=True)


def format_local(moment: datetime, tz: ZoneInfo) -> str:
    """"måndag 2 mars 2026 kl. 18.00" in the plan's time zone (in the reader's language where shown)."""
    return Moment(moment, tz, weekday=True)


def last_day(occ: Occasion, tz: ZoneInfo) -> date:
    """The last local day on which the occasion can be registered."""
    return (occ.closes_at.astimezone(tz) - timedelta(minutes=1)).date()
