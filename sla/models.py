"""SLA configuration and facts: calendars, policies, escalation rules, pauses, outcomes.

Configuration (admin-editable): ``Calendar`` (工作日历) with ``WorkingPeriod`` and
``CalendarOverride``, ``SlaPolicy`` (服务级别策略) and ``EscalationRule`` (升级规则).
Facts (written by ``sla.services`` only): ``SlaPause`` (挂起区间), ``SlaOutcome`` (SLA 考核结果,
frozen when decided) and ``EscalationSchedule`` (升级计划, the idempotency key of every alert).
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from directory.models import BusinessSystem, Vendor
from opsdesk.models import TimeStampedModel
from tickets.models import Grade, Kind, Ticket, TicketDispatch


def validate_timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(_("未知的时区：%(zone)s"), params={"zone": value}) from None


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("星期一")
    TUESDAY = 1, _("星期二")
    WEDNESDAY = 2, _("星期三")
    THURSDAY = 3, _("星期四")
    FRIDAY = 4, _("星期五")
    SATURDAY = 5, _("星期六")
    SUNDAY = 6, _("星期日")


class Calendar(TimeStampedModel):
    """A business calendar (工作日历): working periods per weekday, holidays, make-up days.

    Built into an immutable ``sla.calendar.BusinessCalendar`` by ``sla.selectors``.
    """

    code = models.SlugField(_("编码"), max_length=50, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    timezone = models.CharField(
        _("时区"), max_length=64, default="Asia/Shanghai", validators=[validate_timezone]
    )
    always_open = models.BooleanField(
        _("全天候（7×24）"),
        default=False,
        help_text=_("勾选后每时每刻都计入工作时间，工作时段与节假日设置不生效。"),
    )
    use_statutory_holidays = models.BooleanField(
        _("采用国家法定节假日"),
        default=True,
        help_text=_(
            "按 chinesecalendar 数据放假和调休补班；数据未覆盖的年份只按星期规则和例外日期。"
        ),
    )

    class Meta:
        verbose_name = _("工作日历")
        verbose_name_plural = _("工作日历")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class WorkingPeriod(models.Model):
    """One working period (工作时段) of a weekday, half-open ``[start, end)``; 00:00 end = 24:00."""

    calendar = models.ForeignKey(
        Calendar, verbose_name=_("工作日历"), on_delete=models.CASCADE, related_name="periods"
    )
    weekday = models.PositiveSmallIntegerField(_("星期"), choices=Weekday.choices)
    start = models.TimeField(_("开始时间"))
    end = models.TimeField(_("结束时间"), help_text=_("00:00 表示当天 24:00。"))

    class Meta:
        verbose_name = _("工作时段")
        verbose_name_plural = _("工作时段")
        ordering = ["calendar", "weekday", "start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6), name="sla_period_weekday_0_6"
            ),
            models.CheckConstraint(
                condition=Q(start__lt=F("end")) | Q(end=time(0)),
                name="sla_period_start_before_end",
            ),
            models.UniqueConstraint(
                fields=["calendar", "weekday", "start"], name="sla_period_unique_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"


class OverrideKind(models.TextChoices):
    HOLIDAY = "holiday", _("放假")
    WORKDAY = "workday", _("上班（补班/取消放假）")


class CalendarOverride(models.Model):
    """An exception date (例外日期): an extra holiday, or a working day (make-up or un-holiday)."""

    calendar = models.ForeignKey(
        Calendar, verbose_name=_("工作日历"), on_delete=models.CASCADE, related_name="overrides"
    )
    date = models.DateField(_("日期"))
    kind = models.CharField(_("类型"), max_length=20, choices=OverrideKind.choices)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("例外日期")
        verbose_name_plural = _("例外日期")
        ordering = ["calendar", "date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="sla_override_unique_date")
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.get_kind_display()}"


class SlaPolicy(TimeStampedModel):
    """A service-level policy (服务级别策略) for a ticket kind and grade, optionally per system.

    Lookup order (``sla.selectors.SlaConfig.policy_for``): kind+grade+system, kind+system,
    kind+grade, kind — a system-specific policy is a contract clause and wins.
    """

    kind = models.CharField(_("工单类型"), max_length=20, choices=Kind.choices)
    grade = models.PositiveSmallIntegerField(
        _("故障级别"),
        choices=Grade.choices,
        null=True,
        blank=True,
        help_text=_("只用于故障；留空表示所有级别。"),
    )
    system = models.ForeignKey(
        BusinessSystem,
        verbose_name=_("业务系统"),
        on_delete=models.CASCADE,
        related_name="sla_policies",
        null=True,
        blank=True,
        help_text=_("留空表示所有业务系统。"),
    )
    calendar = models.ForeignKey(
        Calendar, verbose_name=_("工作日历"), on_delete=models.PROTECT, related_name="policies"
    )
    response_minutes = models.PositiveIntegerField(
        _("响应时限（工作分钟）"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    resolution_minutes = models.PositiveIntegerField(
        _("解决时限（工作分钟）"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    is_active = models.BooleanField(_("启用"), default=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("服务级别策略")
        verbose_name_plural = _("服务级别策略")
        ordering = ["kind", "grade", "system", "id"]
        constraints = [
            # NULL grade/system mean "any": one policy per combination (NULLs compare equal).
            models.UniqueConstraint(
                F("kind"),
                Coalesce("grade", Value(0)),
                Coalesce("system", Value(0)),
                name="sla_policy_unique_scope",
            ),
            models.CheckConstraint(
                condition=Q(kind="incident") | Q(grade__isnull=True),
                name="sla_policy_grade_only_for_incidents",
            ),
            models.CheckConstraint(
                condition=Q(response_minutes__isnull=True) | Q(response_minutes__gt=0),
                name="sla_policy_response_positive",
            ),
            models.CheckConstraint(
                condition=Q(resolution_minutes__isnull=True) | Q(resolution_minutes__gt=0),
                name="sla_policy_resolution_positive",
            ),
        ]

    def __str__(self) -> str:
        parts = [self.get_kind_display()]
        if self.grade:
            parts.append(self.get_grade_display())
        if self.system_id:
            parts.append(str(self.system))
        return " / ".join(str(part) for part in parts)


class Metric(models.TextChoices):
    RESPONSE = "response", _("响应")
    RESOLUTION = "resolution", _("解决")
    VENDOR_RESPONSE = "vendor_response", _("服务商响应")


class Recipient(models.TextChoices):
    """Who an escalation rule notifies; resolved to users by ``sla.services`` at fire time."""

    ENGINEER = "engineer", _("处理工程师")
    VENDOR_MANAGER = "vendor_manager", _("服务商经理")
    DESK = "desk", _("服务台（负责人，无则全体坐席）")
    DESK_SUPERVISOR = "desk_supervisor", _("服务台主管")
    CENTRE_LEADER = "centre_leader", _("中心领导")


class EscalationRule(TimeStampedModel):
    """An escalation rule (升级规则): at ``fraction`` of a metric's target, notify some roles.

    ``fraction`` 0 fires when the clock starts (e.g. grade-1 creation notice), 1 at the
    deadline (breach). Edits apply to tickets opened or reclassified afterwards; deactivating
    a rule cancels its pending alerts.
    """

    name = models.CharField(_("名称"), max_length=100)
    metric = models.CharField(_("考核指标"), max_length=20, choices=Metric.choices)
    fraction = models.DecimalField(
        _("触发比例"),
        max_digits=4,
        decimal_places=3,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(5))],
        help_text=_("时限的比例：0 表示计时开始（如新建），0.5 表示过半，1 表示超时。"),
    )
    kind = models.CharField(
        _("工单类型"),
        max_length=20,
        choices=Kind.choices,
        blank=True,
        help_text=_("留空表示全部。"),
    )
    grade = models.PositiveSmallIntegerField(
        _("故障级别"), choices=Grade.choices, null=True, blank=True, help_text=_("留空表示全部。")
    )
    notify_engineer = models.BooleanField(Recipient.ENGINEER.label, default=False)
    notify_vendor_manager = models.BooleanField(Recipient.VENDOR_MANAGER.label, default=False)
    notify_desk = models.BooleanField(Recipient.DESK.label, default=False)
    notify_desk_supervisor = models.BooleanField(Recipient.DESK_SUPERVISOR.label, default=False)
    notify_centre_leader = models.BooleanField(Recipient.CENTRE_LEADER.label, default=False)
    is_active = models.BooleanField(
        _("启用"),
        default=True,
        help_text=_(
            "停用后，尚未触发的升级计划随即取消；已触发过的规则保留记录，只能停用不能删除。"
        ),
    )

    class Meta:
        verbose_name = _("升级规则")
        verbose_name_plural = _("升级规则")
        ordering = ["metric", "fraction", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(fraction__gte=0, fraction__lte=5), name="sla_rule_fraction_0_5"
            ),
            models.UniqueConstraint(
                F("metric"),
                F("fraction"),
                F("kind"),
                Coalesce("grade", Value(0)),
                name="sla_rule_unique_level",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def recipients(self) -> list[str]:
        return [
            recipient.value
            for recipient in Recipient
            if getattr(self, f"notify_{recipient.value}", False)
        ]


class PauseReason(models.TextChoices):
    PENDING = "pending", _("挂起")
    RESOLVED = "resolved", _("已解决待确认（重新打开前）")


class SlaPause(models.Model):
    """An interval in which the resolution clock stood still (挂起区间).

    Stored as instants so that a regrade onto another calendar re-measures the excluded
    working time on the new calendar instead of carrying seconds measured on the old one.
    """

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("工单"), on_delete=models.CASCADE, related_name="sla_pauses"
    )
    reason = models.CharField(_("原因"), max_length=20, choices=PauseReason.choices)
    started_at = models.DateTimeField(_("开始"))
    ended_at = models.DateTimeField(_("结束"), null=True, blank=True)

    class Meta:
        verbose_name = _("挂起区间")
        verbose_name_plural = _("挂起区间")
        ordering = ["ticket", "started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket"],
                condition=Q(ended_at__isnull=True),
                name="sla_one_open_pause_per_ticket",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="sla_pause_not_reversed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.started_at:%Y-%m-%d %H:%M} → {self.ended_at or '…'}"


class SlaOutcomeQuerySet(models.QuerySet):
    def current(self) -> SlaOutcomeQuerySet:
        """Outcomes that count: a reopened ticket's earlier resolution outcome is superseded."""
        return self.filter(superseded_at__isnull=True)

    def of_metric(self, metric: str) -> SlaOutcomeQuerySet:
        return self.filter(metric=metric)


class SlaOutcome(models.Model):
    """A frozen SLA outcome (考核结果): due, met or breached, when, working minutes elapsed.

    Written once, at the moment the metric is decided (response: accept or first-line
    resolution; resolution: resolve; vendor response: that dispatch's accept, or its
    withdrawal after the deadline). Later policy or calendar edits never rewrite it. A reopen
    marks the resolution outcome ``superseded_at`` and the next resolve writes a new one, so
    the KPI counts ``.current()`` rows — the last resolution of each ticket.
    """

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("工单"), on_delete=models.CASCADE, related_name="sla_outcomes"
    )
    metric = models.CharField(_("考核指标"), max_length=20, choices=Metric.choices)
    dispatch = models.ForeignKey(
        TicketDispatch,
        verbose_name=_("派单记录"),
        on_delete=models.CASCADE,
        related_name="sla_outcomes",
        null=True,
        blank=True,
    )
    vendor = models.ForeignKey(
        Vendor,
        verbose_name=_("服务商"),
        on_delete=models.PROTECT,
        related_name="sla_outcomes",
        null=True,
        blank=True,
    )
    kind = models.CharField(_("工单类型"), max_length=20, choices=Kind.choices)
    grade = models.PositiveSmallIntegerField(
        _("故障级别"), choices=Grade.choices, null=True, blank=True
    )
    system = models.ForeignKey(
        BusinessSystem,
        verbose_name=_("业务系统"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    started_at = models.DateTimeField(_("计时开始"))
    due_at = models.DateTimeField(_("时限"))
    decided_at = models.DateTimeField(_("判定时间"))
    met = models.BooleanField(_("达标"))
    elapsed_working_minutes = models.DecimalField(
        _("已用工作时长（分钟）"), max_digits=10, decimal_places=2
    )
    target_minutes = models.PositiveIntegerField(_("目标时长（分钟）"), null=True, blank=True)
    calendar_code = models.CharField(_("工作日历"), max_length=50, blank=True)
    superseded_at = models.DateTimeField(_("作废时间（重新打开）"), null=True, blank=True)

    objects = SlaOutcomeQuerySet.as_manager()

    class Meta:
        verbose_name = _("SLA 考核结果")
        verbose_name_plural = _("SLA 考核结果")
        ordering = ["-decided_at", "-id"]
        indexes = [
            models.Index(fields=["metric", "decided_at"], name="sla_outcome_metric_time"),
            models.Index(fields=["vendor", "metric", "decided_at"], name="sla_outcome_vendor"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "metric"],
                condition=Q(superseded_at__isnull=True, dispatch__isnull=True),
                name="sla_one_current_outcome_per_metric",
            ),
            models.UniqueConstraint(
                fields=["dispatch"],
                condition=Q(dispatch__isnull=False),
                name="sla_one_outcome_per_dispatch",
            ),
            models.CheckConstraint(
                condition=Q(metric="vendor_response", dispatch__isnull=False)
                | (~Q(metric="vendor_response") & Q(dispatch__isnull=True)),
                name="sla_outcome_dispatch_iff_vendor_metric",
            ),
        ]

    def __str__(self) -> str:
        verdict = _("达标") if self.met else _("超时")
        return f"{self.ticket_id} {self.get_metric_display()} {verdict}"


class EscalationSchedule(models.Model):
    """When one escalation level of one ticket clock fires (升级计划); fired at most once.

    The unique key (ticket, metric, rule, dispatch) is the idempotency key: a level is
    inserted once, claimed by exactly one conditional UPDATE of ``fired_at`` and never
    re-inserted after firing. ``due_at`` is NULL while the clock is paused.
    """

    # No index of its own: the unique key below starts with ticket_id. Every index on this
    # table is rewritten when the sweep sets fired_at, so the table carries only what it uses.
    ticket = models.ForeignKey(
        Ticket,
        verbose_name=_("工单"),
        on_delete=models.CASCADE,
        related_name="sla_escalations",
        db_index=False,
    )
    metric = models.CharField(_("考核指标"), max_length=20, choices=Metric.choices)
    rule = models.ForeignKey(
        EscalationRule,
        verbose_name=_("升级规则"),
        on_delete=models.PROTECT,
        related_name="schedules",
    )
    dispatch = models.ForeignKey(
        TicketDispatch,
        verbose_name=_("派单记录"),
        on_delete=models.CASCADE,
        related_name="+",
        null=True,
        blank=True,
        db_index=False,
    )
    due_at = models.DateTimeField(_("触发时间"), null=True, blank=True)
    fired_at = models.DateTimeField(_("已触发时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("升级计划")
        verbose_name_plural = _("升级计划")
        ordering = ["due_at", "id"]
        indexes = [
            # The sweep's only access path: unfired rows by due time (paused rows are NULL).
            models.Index(
                fields=["due_at"],
                name="sla_escalation_pending_due",
                condition=Q(fired_at__isnull=True, due_at__isnull=False),
            ),
            # Deleting a ticket cascades through its dispatches; only vendor levels have one.
            models.Index(
                fields=["dispatch"],
                name="sla_escalation_dispatch",
                condition=Q(dispatch__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                F("ticket"),
                F("metric"),
                F("rule"),
                Coalesce("dispatch", Value(0)),
                name="sla_escalation_once_per_level",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.metric} #{self.rule_id}"
