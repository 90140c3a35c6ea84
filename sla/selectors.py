"""SLA reads: the configuration snapshot, calendar warnings and the SLA badge.

Ticket creation is hot (monitoring systems post alerts in bursts), so calendars, policies and
rules are read into one immutable in-process snapshot: 0 queries when warm, 5 queries to
rebuild. The snapshot is rebuilt after ``CONFIG_TTL_SECONDS`` or at once in the process that
edits the configuration (``sla_config_invalidate``, called by ``sla.services`` and the admin);
other processes see an edit within the TTL.
"""

from __future__ import annotations

import logging
import threading
import time as monotonic_time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from opsdesk.clock import now as current_time
from sla.calendar import (
    ALWAYS_OPEN_CODE,
    BusinessCalendar,
    WorkingPeriod,
    always_open_calendar,
    cn_gov_calendar,
    statutory_data_covers,
    working_minutes_between,
)
from sla.models import (
    Calendar,
    CalendarOverride,
    EscalationRule,
    OverrideKind,
    SlaOutcome,
    SlaPolicy,
)
from sla.models import WorkingPeriod as WorkingPeriodRow
from tickets.models import Kind, Status, Ticket

logger = logging.getLogger(__name__)

CONFIG_TTL_SECONDS = 60
# A target counts as "at risk" once this share of it has elapsed.
AT_RISK_FRACTION = 0.8
# From this day of the last covered year on, supervisors are told to enter next year's plan
# (the State Council usually publishes it in late October or November).
NEXT_YEAR_WARNING_FROM = (11, 1)


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    """A policy as the engine uses it (a plain value, safe to share between threads)."""

    id: int
    kind: str
    grade: int | None
    system_id: int | None
    calendar_code: str
    response_minutes: int | None
    resolution_minutes: int | None


@dataclass(frozen=True, slots=True)
class RuleInfo:
    id: int
    name: str
    metric: str
    fraction: float
    kind: str
    grade: int | None
    recipients: tuple[str, ...]

    def applies_to(self, *, metric: str, kind: str, grade: int | None) -> bool:
        return (
            self.metric == metric
            and (not self.kind or self.kind == kind)
            and (self.grade is None or self.grade == grade)
        )


@dataclass(frozen=True)
class SlaConfig:
    """An immutable snapshot of calendars, active policies and active escalation rules."""

    calendars: Mapping[str, BusinessCalendar]
    policies: Mapping[tuple[str, int | None, int | None], PolicyInfo]
    rules: tuple[RuleInfo, ...]
    # Years in which each calendar has at least one holiday override (a manually entered plan).
    override_years: Mapping[str, frozenset[int]] = field(default_factory=dict)

    @property
    def rules_by_id(self) -> Mapping[int, RuleInfo]:
        return {rule.id: rule for rule in self.rules}

    def calendar(self, code: str) -> BusinessCalendar:
        """The calendar ``code``; an unknown code falls back to ``cn-gov`` rather than raising."""
        calendar = self.calendars.get(code)
        if calendar is None:
            logger.error("sla: unknown calendar %r, using the built-in cn-gov calendar", code)
            calendar = cn_gov_calendar()
        return calendar

    @property
    def always_open(self) -> BusinessCalendar:
        return self.calendars.get(ALWAYS_OPEN_CODE) or always_open_calendar()

    def policy_for(self, kind: str, grade: int | None, system_id: int | None) -> PolicyInfo | None:
        """The policy of a ticket: kind+grade+system, kind+system, kind+grade, kind."""
        grade = grade if kind == Kind.INCIDENT else None
        candidates = (
            ((kind, grade, system_id), (kind, None, system_id)) if system_id is not None else ()
        )
        for key in (*candidates, (kind, grade, None), (kind, None, None)):
            policy = self.policies.get(key)
            if policy is not None:
                return policy
        return None

    def rules_for(self, *, metric: str, kind: str, grade: int | None) -> list[RuleInfo]:
        return [
            rule for rule in self.rules if rule.applies_to(metric=metric, kind=kind, grade=grade)
        ]


_lock = threading.Lock()
_cache: tuple[float, SlaConfig] | None = None
_generation = 0


def sla_config() -> SlaConfig:
    """The current snapshot (0 queries when warm)."""
    global _cache
    cached = _cache
    if cached is not None and monotonic_time.monotonic() - cached[0] < CONFIG_TTL_SECONDS:
        return cached[1]
    generation = _generation
    config = _load_config()
    with _lock:
        # An invalidation while we were loading means our rows may be stale: use, don't keep.
        if generation == _generation:
            _cache = (monotonic_time.monotonic(), config)
    return config


def sla_config_invalidate() -> None:
    """Drop this process's snapshot; the next reader rebuilds it from the database."""
    global _cache, _generation
    with _lock:
        _cache = None
        _generation += 1


def _load_config() -> SlaConfig:
    periods: dict[int, dict[int, list[WorkingPeriod]]] = defaultdict(lambda: defaultdict(list))
    for row in WorkingPeriodRow.objects.order_by("calendar_id", "weekday", "start"):
        periods[row.calendar_id][row.weekday].append(WorkingPeriod(row.start, row.end))
    holidays: dict[int, set[date]] = defaultdict(set)
    workdays: dict[int, set[date]] = defaultdict(set)
    for calendar_id, day, kind in CalendarOverride.objects.values_list(
        "calendar_id", "date", "kind"
    ):
        (holidays if kind == OverrideKind.HOLIDAY else workdays)[calendar_id].add(day)

    calendars: dict[str, BusinessCalendar] = {}
    codes: dict[int, str] = {}
    override_years: dict[str, frozenset[int]] = {}
    for row in Calendar.objects.all():
        codes[row.pk] = row.code
        override_years[row.code] = frozenset(day.year for day in holidays[row.pk])
        calendars[row.code] = _build_calendar(
            row, periods[row.pk], holidays[row.pk], workdays[row.pk]
        )

    policies: dict[tuple[str, int | None, int | None], PolicyInfo] = {}
    for row in SlaPolicy.objects.filter(is_active=True).order_by("id"):
        info = PolicyInfo(
            id=row.pk,
            kind=row.kind,
            grade=row.grade,
            system_id=row.system_id,
            calendar_code=codes[row.calendar_id],
            response_minutes=row.response_minutes,
            resolution_minutes=row.resolution_minutes,
        )
        policies[(row.kind, row.grade, row.system_id)] = info

    rules = tuple(
        rule_info(row) for row in EscalationRule.objects.filter(is_active=True).order_by("id")
    )
    return SlaConfig(
        calendars=MappingProxyType(calendars),
        policies=MappingProxyType(policies),
        rules=rules,
        override_years=MappingProxyType(override_years),
    )


def rule_info(row: EscalationRule) -> RuleInfo:
    return RuleInfo(
        id=row.pk,
        name=row.name,
        metric=row.metric,
        fraction=float(row.fraction),
        kind=row.kind,
        grade=row.grade,
        recipients=tuple(row.recipients),
    )


def _build_calendar(
    row: Calendar,
    periods: Mapping[int, list[WorkingPeriod]],
    holidays: set[date],
    workdays: set[date],
) -> BusinessCalendar:
    try:
        return BusinessCalendar(
            code=row.code,
            timezone=row.timezone,
            weekly_periods={weekday: tuple(items) for weekday, items in periods.items()},
            always_open=row.always_open,
            use_statutory_holidays=row.use_statutory_holidays,
            extra_holidays=frozenset(holidays),
            extra_workdays=frozenset(workdays),
        )
    except (ValueError, TypeError):
        # The admin validates periods, so this is data edited behind its back. Deadlines must
        # keep flowing: fall back to the standard government day with this calendar's dates.
        logger.exception("sla: calendar %r is invalid, using cn-gov working hours", row.code)
        return cn_gov_calendar(
            code=row.code,
            extra_holidays=frozenset(holidays),
            extra_workdays=frozenset(workdays),
        )


def calendar_for(code: str) -> BusinessCalendar:
    """The business calendar ``code`` built from the admin's data (cached)."""
    return sla_config().calendar(code)


def policy_for(kind: str, grade: int | None, system_id: int | None) -> PolicyInfo | None:
    """The active policy for a ticket kind/grade/system; a system-specific one wins."""
    return sla_config().policy_for(kind, grade, system_id)


# ---------------------------------------------------------------------------------------------
# Missing statutory data


def calendar_data_warning(today: date | None = None) -> str | None:
    """A warning for supervisors when a year's statutory holiday plan is missing, else None.

    Checked for every calendar that uses statutory holidays: the current year, and from
    1 November the next one. A year counts as entered when ``chinesecalendar`` covers it or
    the calendar has holiday overrides in it. Until then deadlines in that year follow the
    weekday rule (Mon–Fri) plus overrides — the engine never fails on it.
    """
    today = today or timezone.localdate()
    config = sla_config()
    years = [today.year]
    if (today.month, today.day) >= NEXT_YEAR_WARNING_FROM:
        years.append(today.year + 1)
    missing = sorted(
        {
            year
            for code, calendar in config.calendars.items()
            if calendar.use_statutory_holidays and not calendar.always_open
            for year in years
            if not statutory_data_covers(year) and year not in config.override_years.get(code, ())
        }
    )
    if not missing:
        return None
    return _(
        "尚未录入 %(years)s 年的法定节假日和调休安排：在此之前 SLA 时限只按周一至周五计算。"
        "请在“管理后台 › 工作日历 › 例外日期”中录入放假和补班日期，或升级 chinesecalendar。"
    ) % {"years": "、".join(str(year) for year in missing)}


# ---------------------------------------------------------------------------------------------
# The SLA badge


class SlaState(models.TextChoices):
    ON_TRACK = "on_track", "on track"
    AT_RISK = "at_risk", "at risk"
    BREACHED = "breached", "breached"
    PAUSED = "paused", "paused"
    MET = "met", "met"
    NONE = "none", "none"


_SEVERITY = {SlaState.BREACHED: 3, SlaState.AT_RISK: 2, SlaState.ON_TRACK: 1}


@dataclass(frozen=True, slots=True)
class SlaBadge:
    """What a list row or the ticket page shows about a ticket's SLA."""

    state: str
    metric: str | None = None
    due_at: datetime | None = None
    # Working minutes left (on track, at risk, paused) or overdue (breached).
    minutes: float | None = None
    label: str = ""

    @property
    def css_class(self) -> str:
        return {
            SlaState.ON_TRACK: "sla-on-track",
            SlaState.AT_RISK: "sla-at-risk",
            SlaState.BREACHED: "sla-breached",
            SlaState.MET: "sla-on-track",
            SlaState.PAUSED: "text-secondary",
        }.get(self.state, "text-muted")

    @property
    def title(self) -> str:
        return self.title_in(timezone.get_current_timezone(), deadline_labels())

    def title_in(self, tz, labels: dict[str, str]) -> str:
        """``title`` with the zone and ``deadline_labels()`` looked up once per table."""
        if self.due_at is None:
            return ""
        label = labels["response"] if self.metric == "response" else labels["resolution"]
        return f"{label} {self.due_at.astimezone(tz):%Y-%m-%d %H:%M}"


def deadline_labels() -> dict[str, str]:
    """The deadlines' names in the current language, by metric."""
    return {"response": _("响应时限"), "resolution": _("解决时限")}


def format_working_minutes(minutes: float) -> str:
    """``95`` → ``1小时35分``; working time, so a cn-gov day is 7 hours."""
    total = max(0, round(minutes))
    hours, rest = divmod(total, 60)
    if hours and rest:
        return _("%(h)d小时%(m)d分") % {"h": hours, "m": rest}
    if hours:
        return _("%(h)d小时") % {"h": hours}
    return _("%(m)d分钟") % {"m": rest}


def sla_status(ticket: Ticket, now: datetime | None = None) -> SlaBadge:
    """The badge of one ticket from its stored fields: no queries once the config is warm.

    Open tickets show the worse of the response clock (until responded) and the resolution
    clock: breached, at risk (≥ 80% of the target elapsed) or on track, with the working time
    left or overdue. Paused tickets show the time that was left when they were paused;
    resolved and closed tickets whether they were resolved in time.
    """
    now = now or current_time()
    if ticket.status == Status.CANCELLED:
        return SlaBadge(SlaState.NONE)
    if ticket.status in (Status.RESOLVED, Status.CLOSED):
        due, done = ticket.resolution_due, ticket.resolved_at
        if due is None or done is None:
            return SlaBadge(SlaState.NONE)
        if done <= due:
            return SlaBadge(SlaState.MET, "resolution", due, None, _("按时解决"))
        return SlaBadge(SlaState.BREACHED, "resolution", due, None, _("超时解决"))

    config = sla_config()
    policy = config.policy_for(ticket.kind, ticket.grade, ticket.system_id)
    calendar = config.calendar(policy.calendar_code) if policy else config.always_open
    clocks: list[tuple[str, datetime, float | None]] = []
    if ticket.responded_at is None and ticket.response_due is not None:
        clocks.append(("response", ticket.response_due, policy and policy.response_minutes))
    if ticket.resolution_due is not None:
        if policy is not None and policy.resolution_minutes:
            target = policy.resolution_minutes
        else:  # a task: the desk's date, measured in plain time
            calendar = config.always_open if policy is None else calendar
            target = working_minutes_between(ticket.reported_at, ticket.resolution_due, calendar)
        if ticket.paused_at is not None:
            left = working_minutes_between(ticket.paused_at, ticket.resolution_due, calendar)
            if ticket.paused_at < ticket.resolution_due:
                label = _("挂起中，剩余 %(time)s") % {"time": format_working_minutes(left)}
                return SlaBadge(SlaState.PAUSED, "resolution", ticket.resolution_due, left, label)
            overdue = working_minutes_between(ticket.resolution_due, ticket.paused_at, calendar)
            label = _("挂起中，已超时 %(time)s") % {"time": format_working_minutes(overdue)}
            return SlaBadge(SlaState.BREACHED, "resolution", ticket.resolution_due, overdue, label)
        clocks.append(("resolution", ticket.resolution_due, target))
    if not clocks:
        return SlaBadge(SlaState.NONE)

    badges = [_clock_badge(metric, due, target, now, calendar) for metric, due, target in clocks]
    return max(badges, key=lambda badge: (_SEVERITY[badge.state], -(badge.minutes or 0)))


def _clock_badge(
    metric: str, due: datetime, target: float | None, now: datetime, calendar: BusinessCalendar
) -> SlaBadge:
    # The badge sits beside the resolution deadline in lists: a response clock says so.
    response = metric == "response"
    if now >= due:
        overdue = working_minutes_between(due, now, calendar)
        template = _("响应超时 %(time)s") if response else _("超时 %(time)s")
        label = template % {"time": format_working_minutes(overdue)}
        return SlaBadge(SlaState.BREACHED, metric, due, overdue, label)
    left = working_minutes_between(now, due, calendar)
    state = SlaState.ON_TRACK
    if target and left <= target * (1 - AT_RISK_FRACTION):
        state = SlaState.AT_RISK
    template = _("响应剩余 %(time)s") if response else _("剩余 %(time)s")
    label = template % {"time": format_working_minutes(left)}
    return SlaBadge(state, metric, due, left, label)


# ---------------------------------------------------------------------------------------------
# Outcomes


def ticket_sla_outcomes(ticket: Ticket) -> models.QuerySet[SlaOutcome]:
    """A ticket's frozen outcomes, newest first, for the ticket page."""
    return SlaOutcome.objects.filter(ticket=ticket).select_related("vendor", "dispatch")
