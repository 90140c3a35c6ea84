"""Business-hours calendar engine for SLA deadlines.

This module is deliberately pure: no Django models, no database, no global mutable
configuration. The database layer builds :class:`BusinessCalendar` instances from its
models and hands them to the functions below.

Semantics shared by every function:

* A calendar has *working periods* per weekday (0 = Monday ... 6 = Sunday), expressed as
  local wall-clock times in the calendar's time zone. A period is half-open:
  ``[start, end)``. So 12:00 is *not* working time in a period ending at 12:00, but a
  deadline may fall exactly on 12:00 (it is the instant the last working second ends).
* Working time is measured in real elapsed time. Period boundaries are converted from
  local wall-clock time to absolute instants with :mod:`zoneinfo`, so a period that
  contains a DST transition is correctly shorter or longer (irrelevant for Asia/Shanghai,
  which has had no DST since 1991, but correct for any IANA zone).
* Which days are working days is decided, in order of precedence, by:

  1. ``extra_holidays`` -- the date is never a working day. A holiday override wins over a
     workday override on the same date (closing the desk is the safe interpretation of
     contradictory data, and it keeps the DB layer from crashing on it).
  2. ``extra_workdays`` -- the date is a working day. This serves both as "remove a
     holiday" (force a statutory holiday back to work) and as "add a make-up working day".
  3. Chinese statutory data from the ``chinese_calendar`` package, when
     ``use_statutory_holidays`` is set and the package covers the year: statutory holidays
     are non-working, statutory make-up days (调休) are working.
  4. The weekday rule: a day works if its weekday has periods.

  A forced working day (rule 2 or a statutory make-up day) uses its own weekday's periods
  when it has any (e.g. a statutory holiday on a Wednesday forced back to work keeps the
  Wednesday hours); on a normally non-working weekday (e.g. a make-up Saturday) it uses
  the calendar's *standard working day* periods: ``makeup_day_periods`` if given, else the
  periods of Monday, else those of the first weekday (Monday to Sunday) that has any.
* Outside the years covered by ``chinese_calendar`` (2004-2026 for version 1.11), the
  engine silently falls back to the weekday rule plus overrides and never raises; use
  :func:`statutory_data_covers` to warn operators that next year's schedule is missing.
* An ``always_open`` calendar (24x7) treats every instant as working time; its periods,
  holidays and overrides are ignored.

All datetimes passed in must be timezone-aware (naive input raises ``ValueError``, since
guessing a zone would silently shift deadlines by hours); results are aware datetimes in
the calendar's time zone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from numbers import Real
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

__all__ = [
    "ALWAYS_OPEN_CODE",
    "CN_GOV_CODE",
    "BusinessCalendar",
    "WorkingPeriod",
    "add_working_time",
    "always_open_calendar",
    "cn_gov_calendar",
    "is_working_day",
    "is_working_time",
    "next_working_instant",
    "statutory_data_covers",
    "working_minutes_between",
]

CN_GOV_CODE = "cn-gov"
ALWAYS_OPEN_CODE = "24x7"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_ONE_DAY = timedelta(days=1)
_US_PER_MINUTE = 60_000_000
_MIDNIGHT = time(0)
# Per-calendar day cache bound: a few decades of days, far more than any real workload
# touches, but keeps a long-lived worker from growing without limit on odd inputs.
_DAY_CACHE_LIMIT = 20_000
_SHARED_CACHE_CALENDARS = 256

# (start instant, end instant) in integer microseconds since the Unix epoch. Integers
# keep add/between exact inverses of each other; floats would drift by a microsecond.
_Span = tuple[int, int]
# (spans of the day in ascending order, total working microseconds of the day)
_DayPlan = tuple[tuple[_Span, ...], int]


@dataclass(frozen=True, slots=True)
class WorkingPeriod:
    """A half-open local wall-clock interval ``[start, end)`` within one day.

    ``end == time(0)`` means midnight at the *end* of the day (24:00), so a period can run
    until the day is over, e.g. ``WorkingPeriod(time(22), time(0))``. Times must be naive
    (the calendar supplies the zone). Raises ``ValueError`` unless ``start < end``.
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        if not isinstance(self.start, time) or not isinstance(self.end, time):
            raise TypeError("WorkingPeriod start and end must be datetime.time values")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("WorkingPeriod times must be naive; the calendar sets the zone")
        if not self.start_offset < self.end_offset:
            raise ValueError(f"WorkingPeriod start must be before end: {self.start}-{self.end}")

    @property
    def start_offset(self) -> timedelta:
        """Offset of ``start`` from local midnight."""
        return _time_offset(self.start)

    @property
    def end_offset(self) -> timedelta:
        """Offset of ``end`` from local midnight (24h when ``end`` is ``time(0)``)."""
        return _ONE_DAY if self.end == _MIDNIGHT else _time_offset(self.end)

    @property
    def duration(self) -> timedelta:
        """Wall-clock length of the period."""
        return self.end_offset - self.start_offset


@dataclass(frozen=True)
class BusinessCalendar:
    """An immutable business-hours calendar.

    Attributes:
        code: Stable identifier, e.g. ``"cn-gov"``.
        timezone: IANA zone name; all periods are local times in this zone.
        weekly_periods: Periods per weekday, 0 = Monday ... 6 = Sunday. Missing weekdays
            have no periods. Stored as a read-only copy, so later changes to the mapping
            passed in cannot alter the calendar.
        always_open: 24x7 calendar; every instant is working time and everything else is
            ignored.
        use_statutory_holidays: Apply Chinese statutory holidays and make-up days from
            ``chinese_calendar`` for the years it covers.
        extra_holidays: Dates forced to be non-working; wins over everything.
        extra_workdays: Dates forced to be working (removes a holiday or adds a make-up
            day); wins over statutory data.
        makeup_day_periods: Periods of the *standard working day*, used on forced working
            days whose weekday has no periods. ``None`` means Monday's periods (or those
            of the first weekday that has any).

    Construction raises ``ValueError`` for invalid weekday keys, overlapping periods, an
    unknown time zone, or a non-24x7 calendar without any weekly working period (which
    would make every deadline computation loop forever).
    """

    code: str
    timezone: str
    weekly_periods: Mapping[int, tuple[WorkingPeriod, ...]] = field(hash=False)
    always_open: bool = False
    use_statutory_holidays: bool = False
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    makeup_day_periods: tuple[WorkingPeriod, ...] | None = None

    # Derived, validated data; excluded from equality, hashing and repr.
    _tz: ZoneInfo = field(init=False, repr=False, compare=False, hash=False)
    _weekly: tuple[tuple[WorkingPeriod, ...], ...] = field(
        init=False, repr=False, compare=False, hash=False
    )
    _makeup: tuple[WorkingPeriod, ...] = field(init=False, repr=False, compare=False, hash=False)
    _day_cache: dict[date, _DayPlan] = field(init=False, repr=False, compare=False, hash=False)
    _year_prefixes: dict[int, tuple[int, ...]] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        # object.__setattr__ because the dataclass is frozen; these are one-time
        # normalisations of constructor input, not mutations.
        try:
            tz = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        object.__setattr__(self, "_tz", tz)

        weekly: list[tuple[WorkingPeriod, ...]] = [() for _ in range(7)]
        for weekday, periods in self.weekly_periods.items():
            if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
                raise ValueError(f"weekday keys must be ints 0 (Monday) .. 6, got {weekday!r}")
            weekly[weekday] = _normalise_periods(periods, f"weekday {weekday}")
        object.__setattr__(
            self,
            "weekly_periods",
            MappingProxyType({day: weekly[day] for day in range(7) if weekly[day]}),
        )
        object.__setattr__(self, "_weekly", tuple(weekly))

        if self.makeup_day_periods is None:
            makeup = next((periods for periods in weekly if periods), ())
        else:
            makeup = _normalise_periods(self.makeup_day_periods, "makeup_day_periods")
            object.__setattr__(self, "makeup_day_periods", makeup)
        object.__setattr__(self, "_makeup", makeup)

        object.__setattr__(
            self, "extra_holidays", _normalise_dates(self.extra_holidays, "extra_holidays")
        )
        object.__setattr__(
            self, "extra_workdays", _normalise_dates(self.extra_workdays, "extra_workdays")
        )

        if not self.always_open and not any(weekly):
            raise ValueError(
                f"calendar {self.code!r} has no working periods; deadlines would never be "
                "reached (use always_open for a 24x7 calendar)"
            )
        # Equal calendars share one day cache, so a DB layer that rebuilds the calendar
        # per request still hits warm data. Keyed by value, never by identity.
        cache = _SHARED_DAY_CACHES.get(self)
        if cache is None:
            if len(_SHARED_DAY_CACHES) >= _SHARED_CACHE_CALENDARS:
                _SHARED_DAY_CACHES.clear()
                _SHARED_YEAR_PREFIXES.clear()
            cache = _SHARED_DAY_CACHES[self] = {}
            _SHARED_YEAR_PREFIXES[self] = {}
        object.__setattr__(self, "_day_cache", cache)
        object.__setattr__(self, "_year_prefixes", _SHARED_YEAR_PREFIXES[self])

    def __reduce__(self) -> tuple[type[BusinessCalendar], tuple[object, ...]]:
        # mappingproxy cannot be pickled; rebuild from plain constructor arguments so
        # calendars can live in Django's cache or cross process boundaries.
        return (
            type(self),
            (
                self.code,
                self.timezone,
                dict(self.weekly_periods),
                self.always_open,
                self.use_statutory_holidays,
                self.extra_holidays,
                self.extra_workdays,
                self.makeup_day_periods,
            ),
        )

    @property
    def tzinfo(self) -> ZoneInfo:
        """The calendar's time zone."""
        return self._tz

    def periods_on(self, day: date) -> tuple[WorkingPeriod, ...]:
        """Working periods that apply on ``day`` after holidays and overrides.

        Always empty for an ``always_open`` calendar, which has no periods as such; use
        :func:`is_working_day` to ask whether a day works.
        """
        if self.always_open:
            return ()
        if day in self.extra_holidays:
            return ()
        own = self._weekly[day.weekday()]
        if day in self.extra_workdays:
            return own or self._makeup
        if self.use_statutory_holidays and statutory_data_covers(day.year):
            if day in chinese_calendar.holidays:
                return ()
            if day in chinese_calendar.workdays:
                return own or self._makeup
        return own

    def _day_plan(self, day: date) -> _DayPlan:
        """Absolute working spans of ``day`` with their total, memoised per calendar."""
        plan = self._day_cache.get(day)
        if plan is None:
            spans: list[_Span] = []
            tz = self._tz
            for period in self.periods_on(day):
                start = _to_us(datetime.combine(day, period.start, tzinfo=tz))
                end_day = day + _ONE_DAY if period.end == _MIDNIGHT else day
                end = _to_us(datetime.combine(end_day, period.end, tzinfo=tz))
                # A period swallowed by a DST gap can collapse; it holds no working time.
                if end > start:
                    spans.append((start, end))
            plan = (tuple(spans), sum(end - start for start, end in spans))
            if len(self._day_cache) >= _DAY_CACHE_LIMIT:
                self._day_cache.clear()
            self._day_cache[day] = plan
        return plan

    def _whole_days_total(self, first: date, stop: date) -> int:
        """Working microseconds of the whole days ``[first, stop)``, in O(years).

        An open ticket two years past its deadline would otherwise cost a 730-day walk for
        each badge that says by how much it is overdue.
        """
        total = 0
        while first < stop:
            if first.year == date.max.year:  # no 1 January after it to stop at
                total += sum(
                    self._day_plan(first + _ONE_DAY * i)[1] for i in range((stop - first).days)
                )
                break
            new_year = date(first.year + 1, 1, 1)
            end = min(stop, new_year)
            prefix = self._year_prefix(first.year)
            start_of_year = date(first.year, 1, 1)
            total += prefix[(end - start_of_year).days] - prefix[(first - start_of_year).days]
            first = end
        return total

    def _year_prefix(self, year: int) -> tuple[int, ...]:
        """``prefix[i]``: working microseconds of the year's first ``i`` days."""
        prefix = self._year_prefixes.get(year)
        if prefix is None:
            running, values, day = 0, [0], date(year, 1, 1)
            while day.year == year:
                running += self._day_plan(day)[1]
                values.append(running)
                if day == date.max:
                    break
                day += _ONE_DAY
            prefix = tuple(values)
            self._year_prefixes[year] = prefix
        return prefix


_SHARED_DAY_CACHES: dict[BusinessCalendar, dict[date, _DayPlan]] = {}
_SHARED_YEAR_PREFIXES: dict[BusinessCalendar, dict[int, tuple[int, ...]]] = {}


def cn_gov_calendar(**overrides: object) -> BusinessCalendar:
    """The default ``cn-gov`` calendar.

    Monday to Friday 08:30-12:00 and 14:00-17:30, Asia/Shanghai, with Chinese statutory
    holidays and make-up working days. Make-up days use Monday's hours. Any
    :class:`BusinessCalendar` field can be overridden by keyword, e.g.
    ``cn_gov_calendar(extra_holidays=frozenset({date(2027, 1, 1)}))``.
    """
    day = (WorkingPeriod(time(8, 30), time(12, 0)), WorkingPeriod(time(14, 0), time(17, 30)))
    fields: dict[str, object] = {
        "code": CN_GOV_CODE,
        "timezone": "Asia/Shanghai",
        "weekly_periods": dict.fromkeys(range(5), day),
        "always_open": False,
        "use_statutory_holidays": True,
        "extra_holidays": frozenset(),
        "extra_workdays": frozenset(),
        "makeup_day_periods": None,
    }
    fields.update(overrides)
    return BusinessCalendar(**fields)  # type: ignore[arg-type]


def always_open_calendar(
    code: str = ALWAYS_OPEN_CODE, timezone: str = "Asia/Shanghai"
) -> BusinessCalendar:
    """A 24x7 calendar: always working, no holidays.

    The zone only decides the zone of returned datetimes; elapsed time is absolute.
    """
    return BusinessCalendar(code=code, timezone=timezone, weekly_periods={}, always_open=True)


@lru_cache(maxsize=512)
def statutory_data_covers(year: int) -> bool:
    """Whether ``chinese_calendar`` has statutory holiday data for ``year``.

    Lets a dashboard warn that next year's official schedule has not been entered yet;
    until then the engine uses the weekday rule plus overrides for that year. The probe
    result is cached per year (the package data cannot change while the process runs).
    """
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    except (ValueError, OverflowError):  # year outside what `date` can represent
        return False
    return True


def is_working_day(day: date, calendar: BusinessCalendar) -> bool:
    """Whether ``day`` has any working time in ``calendar``.

    ``day`` must be a plain ``date``; a ``datetime`` raises ``TypeError`` because its
    calendar date depends on the zone it is read in (convert it explicitly first).
    """
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError("is_working_day expects a datetime.date, not a datetime")
    if calendar.always_open:
        return True
    return bool(calendar._day_plan(day)[0])


def is_working_time(moment: datetime, calendar: BusinessCalendar) -> bool:
    """Whether the aware instant ``moment`` lies inside a working period.

    Periods are half-open, so the period start is working time and the period end is not
    (08:30 is, 12:00 is not, for ``cn-gov``). Naive input raises ``ValueError``.
    """
    _require_aware(moment, "moment")
    if calendar.always_open:
        return True
    instant = _to_us(moment)
    spans = calendar._day_plan(moment.astimezone(calendar.tzinfo).date())[0]
    return any(start <= instant < end for start, end in spans)


def next_working_instant(moment: datetime, calendar: BusinessCalendar) -> datetime:
    """The first working instant at or after ``moment``, in the calendar's zone.

    Returns ``moment`` itself (converted to the calendar zone) when it is working time,
    otherwise the start of the next working period. Naive input raises ``ValueError``.
    """
    return add_working_time(moment, 0, calendar)


def add_working_time(start: datetime, minutes: int | float, calendar: BusinessCalendar) -> datetime:
    """The deadline: the earliest instant at which ``minutes`` of working time have elapsed.

    Counting starts at ``start`` when that is working time, otherwise at the start of the
    next working period (nights, weekends, lunch breaks and holidays are skipped). The
    deadline may coincide with a period end: 30 minutes from 11:30 on a ``cn-gov``
    working day is 12:00, not 14:00.

    ``minutes == 0`` returns :func:`next_working_instant` of ``start``: ``start`` itself
    when it is working time, else the next period start. This keeps "a zero-minute SLA"
    consistent with "the clock only runs during working time" and makes
    ``working_minutes_between(start, result) == 0``.

    Sub-minute precision is kept: seconds and microseconds of ``start`` carry over, and
    fractional minutes are rounded to the microsecond.

    Args:
        start: Timezone-aware instant, in any zone; naive values raise ``ValueError``.
        minutes: Non-negative, finite amount of working time (int or float).
        calendar: The business calendar to count in.

    Returns:
        Aware datetime in the calendar's time zone.

    Raises:
        ValueError: naive ``start``; negative, NaN or infinite ``minutes``.
        TypeError: ``start`` is not a datetime or ``minutes`` is not a real number.
    """
    _require_aware(start, "start")
    remaining = _minutes_to_us(minutes)
    tz = calendar.tzinfo
    if calendar.always_open:
        # Via UTC: aware arithmetic in a ZoneInfo zone is wall-clock arithmetic, which
        # would be an hour off across a DST change.
        return (start.astimezone(UTC) + timedelta(microseconds=remaining)).astimezone(tz)

    instant = _to_us(start)
    day = start.astimezone(tz).date()
    day_plan = calendar._day_plan

    # First day: only the part of each span after `start` counts.
    for span_start, span_end in day_plan(day)[0]:
        if span_end <= instant:
            continue
        begin = max(span_start, instant)
        available = span_end - begin
        if remaining <= available:
            return _from_us(begin + remaining, tz)
        remaining -= available

    # Following days: whole days cost one cached lookup and a subtraction. Termination is
    # guaranteed because the calendar has weekly periods (validated) and overrides and
    # statutory data are finite, so every week beyond them has working time.
    while True:
        day += _ONE_DAY
        spans, total = day_plan(day)
        if remaining > total:
            remaining -= total
            continue
        for span_start, span_end in spans:
            available = span_end - span_start
            if remaining <= available:
                return _from_us(span_start + remaining, tz)
            remaining -= available


def working_minutes_between(start: datetime, end: datetime, calendar: BusinessCalendar) -> float:
    """Working minutes inside ``[start, end)``; ``0.0`` when ``end <= start``.

    The inverse of :func:`add_working_time`: for ``m >= 0``,
    ``working_minutes_between(s, add_working_time(s, m, cal), cal) == m`` (exactly for
    whole minutes and any value representable in microseconds). Both arguments must be
    aware (``ValueError`` otherwise) and may be in different zones.
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    lower, upper = _to_us(start), _to_us(end)
    if upper <= lower:
        return 0.0
    if calendar.always_open:
        return (upper - lower) / _US_PER_MINUTE

    tz = calendar.tzinfo
    day = start.astimezone(tz).date()
    last_day = end.astimezone(tz).date()
    total = 0
    if (last_day - day).days > 2:
        # The days strictly between the first and the last lie wholly inside the interval.
        total += calendar._whole_days_total(day + _ONE_DAY, last_day)
        days = (day, last_day)
    else:
        days = tuple(day + _ONE_DAY * i for i in range((last_day - day).days + 1))
    for day in days:
        spans, day_total = calendar._day_plan(day)
        if spans:
            if lower <= spans[0][0] and spans[-1][1] <= upper:
                total += day_total
            else:
                for span_start, span_end in spans:
                    overlap = min(span_end, upper) - max(span_start, lower)
                    if overlap > 0:
                        total += overlap
    return total / _US_PER_MINUTE


# --- helpers -------------------------------------------------------------------------


def _time_offset(value: time) -> timedelta:
    return timedelta(
        hours=value.hour, minutes=value.minute, seconds=value.second, microseconds=value.microsecond
    )


def _normalise_periods(periods: Iterable[WorkingPeriod], label: str) -> tuple[WorkingPeriod, ...]:
    """Sort periods, reject overlaps, and merge touching ones (12:00-14:00 + 14:00-...)."""
    if isinstance(periods, WorkingPeriod):
        raise TypeError(f"{label}: expected a sequence of WorkingPeriod, got a single one")
    items = list(periods)
    for period in items:
        if not isinstance(period, WorkingPeriod):
            raise TypeError(f"{label}: expected WorkingPeriod, got {period!r}")
    items.sort(key=lambda period: period.start_offset)
    merged: list[WorkingPeriod] = []
    for period in items:
        if merged and period.start_offset < merged[-1].end_offset:
            raise ValueError(f"{label}: overlapping working periods {merged[-1]} and {period}")
        if merged and period.start_offset == merged[-1].end_offset:
            # Touching periods are one continuous stretch; merging keeps the boundary from
            # looking like a break to is_working_time.
            merged[-1] = WorkingPeriod(merged[-1].start, period.end)
        else:
            merged.append(period)
    return tuple(merged)


def _normalise_dates(values: Iterable[date], label: str) -> frozenset[date]:
    dates = frozenset(values)
    for value in dates:
        # datetime is a date subclass but would never match a date key in lookups.
        if isinstance(value, datetime) or not isinstance(value, date):
            raise TypeError(f"{label} must contain datetime.date values, got {value!r}")
    return dates


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def _minutes_to_us(minutes: int | float) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, Real):
        raise TypeError(f"minutes must be a real number, got {minutes!r}")
    if isinstance(minutes, int):
        micros = minutes * _US_PER_MINUTE
    else:
        value = float(minutes)
        if not math.isfinite(value):
            raise ValueError(f"minutes must be finite, got {minutes!r}")
        micros = round(value * _US_PER_MINUTE)
    if micros < 0:
        raise ValueError(f"minutes must not be negative, got {minutes!r}")
    return micros


def _to_us(moment: datetime) -> int:
    # Subtracting aware datetimes with different tzinfo goes through UTC offsets, so this
    # is the absolute instant regardless of the input zone.
    return (moment - _EPOCH) // _ONE_US


def _from_us(micros: int, tz: ZoneInfo) -> datetime:
    return (_EPOCH + timedelta(microseconds=micros)).astimezone(tz)
