"""SLA administration: calendars (periods, holidays, make-up days), policies, escalation rules.

Every edit drops the cached configuration snapshot of this process (others follow within
``sla.selectors.CONFIG_TTL_SECONDS``). Outcomes, schedules and pauses are facts written by
``sla.services``: read-only here.
"""

from __future__ import annotations

from collections import defaultdict

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from sla.calendar import WorkingPeriod as PeriodSpec
from sla.models import (
    Calendar,
    CalendarOverride,
    EscalationRule,
    EscalationSchedule,
    Recipient,
    SlaOutcome,
    SlaPause,
    SlaPolicy,
    WorkingPeriod,
)
from sla.selectors import calendar_data_warning
from sla.services import escalation_rule_saved, sla_calendar_changed, sla_config_changed


class ConfigChangeMixin:
    """Admin for configuration the engine caches: every write invalidates the snapshot."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        sla_config_changed()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        sla_config_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        sla_config_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        sla_config_changed()


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class WorkingPeriodFormSet(BaseInlineFormSet):
    """Rejects overlapping periods and a working calendar without any period."""

    def clean(self):
        super().clean()
        by_weekday: dict[int, list[PeriodSpec]] = defaultdict(list)
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or form.errors:
                continue
            try:
                period = PeriodSpec(data["start"], data["end"])
            except ValueError:
                raise ValidationError(
                    _("%(start)s–%(end)s：开始时间必须早于结束时间。")
                    % {"start": data["start"], "end": data["end"]}
                ) from None
            by_weekday[data["weekday"]].append(period)
        for weekday, periods in by_weekday.items():
            periods.sort(key=lambda period: period.start_offset)
            for before, after in zip(periods, periods[1:], strict=False):
                if after.start_offset < before.end_offset:
                    raise ValidationError(
                        _("%(weekday)s 的工作时段重叠：%(a)s 与 %(b)s。")
                        % {
                            "weekday": WorkingPeriod(weekday=weekday).get_weekday_display(),
                            "a": f"{before.start:%H:%M}–{before.end:%H:%M}",
                            "b": f"{after.start:%H:%M}–{after.end:%H:%M}",
                        }
                    )
        if not self.instance.always_open and not by_weekday:
            raise ValidationError(_("非全天候日历至少需要一个工作时段。"))


class WorkingPeriodInline(admin.TabularInline):
    model = WorkingPeriod
    formset = WorkingPeriodFormSet
    extra = 0


class CalendarOverrideInline(admin.TabularInline):
    model = CalendarOverride
    extra = 0
    ordering = ["-date"]


class CalendarChangeMixin:
    """Admin for a calendar or its exception dates: open tickets' deadlines follow each edit."""

    def calendar_code_of(self, obj) -> str:
        return obj.code

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)  # after the inlines, if any
        self._changed(request, [form.instance])

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        self._changed(request, [obj])

    def delete_queryset(self, request, queryset):
        objects = list(queryset)
        super().delete_queryset(request, queryset)
        self._changed(request, objects)

    def _changed(self, request, objects) -> None:
        for code in sorted({self.calendar_code_of(obj) for obj in objects}):
            sla_calendar_changed(calendar_code=code)
        messages.info(request, _("未结束工单的时限将按调整后的日历在后台重新计算。"))


@admin.register(Calendar)
class CalendarAdmin(CalendarChangeMixin, ConfigChangeMixin, admin.ModelAdmin):
    list_display = ["code", "name", "timezone", "always_open", "use_statutory_holidays"]
    list_filter = ["always_open", "use_statutory_holidays"]
    search_fields = ["code", "name"]
    inlines = [WorkingPeriodInline, CalendarOverrideInline]

    def changelist_view(self, request, extra_context=None):
        # Supervisors enter next year's holidays here: say when they are missing.
        warning = calendar_data_warning()
        if warning:
            messages.warning(request, warning)
        return super().changelist_view(request, extra_context)


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(CalendarChangeMixin, ConfigChangeMixin, admin.ModelAdmin):
    list_display = ["date", "calendar", "kind", "note"]
    list_filter = ["calendar", "kind"]
    search_fields = ["note"]
    date_hierarchy = "date"
    list_select_related = ["calendar"]
    ordering = ["-date"]

    def calendar_code_of(self, obj) -> str:
        return obj.calendar.code


@admin.register(SlaPolicy)
class SlaPolicyAdmin(ConfigChangeMixin, admin.ModelAdmin):
    list_display = [
        "kind",
        "grade",
        "system",
        "calendar",
        "response_minutes",
        "resolution_minutes",
        "is_active",
    ]
    list_filter = ["kind", "grade", "calendar", "is_active"]
    search_fields = ["system__name", "system__code", "note"]
    list_select_related = ["system", "calendar"]
    autocomplete_fields = ["system"]


@admin.register(EscalationRule)
class EscalationRuleAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "metric",
        "percent",
        "kind",
        "grade",
        "recipient_labels",
        "is_active",
    ]
    list_filter = ["metric", "kind", "grade", "is_active"]
    search_fields = ["name"]
    fieldsets = (
        (None, {"fields": ("name", "metric", "fraction", "kind", "grade", "is_active")}),
        (
            _("通知对象"),
            {
                "fields": (
                    "notify_engineer",
                    "notify_vendor_manager",
                    "notify_desk",
                    "notify_desk_supervisor",
                    "notify_centre_leader",
                )
            },
        ),
    )

    @admin.display(description=_("触发比例"), ordering="fraction")
    def percent(self, obj: EscalationRule) -> str:
        return f"{obj.fraction * 100:g}%"

    @admin.display(description=_("通知对象"))
    def recipient_labels(self, obj: EscalationRule) -> str:
        return "、".join(str(Recipient(recipient).label) for recipient in obj.recipients)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        cancelled = escalation_rule_saved(rule=obj)
        if cancelled:
            messages.info(
                request, _("已取消该规则尚未触发的 %(count)s 条升级计划。") % {"count": cancelled}
            )

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        sla_config_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        sla_config_changed()


@admin.register(SlaOutcome)
class SlaOutcomeAdmin(ReadOnlyAdmin):
    list_display = [
        "ticket",
        "metric",
        "vendor",
        "grade",
        "met",
        "due_at",
        "decided_at",
        "elapsed_working_minutes",
        "target_minutes",
        "superseded_at",
    ]
    list_filter = ["metric", "met", "kind", "grade", "vendor", "calendar_code"]
    search_fields = ["ticket__number", "ticket__title"]
    list_select_related = ["ticket", "vendor"]
    date_hierarchy = "decided_at"


@admin.register(EscalationSchedule)
class EscalationScheduleAdmin(ReadOnlyAdmin):
    list_display = ["ticket", "metric", "rule", "dispatch", "due_at", "fired_at"]
    list_filter = ["metric", "rule", ("fired_at", admin.EmptyFieldListFilter)]
    search_fields = ["ticket__number"]
    list_select_related = ["ticket", "rule", "dispatch"]


@admin.register(SlaPause)
class SlaPauseAdmin(ReadOnlyAdmin):
    list_display = ["ticket", "reason", "started_at", "ended_at"]
    list_filter = ["reason"]
    search_fields = ["ticket__number"]
    list_select_related = ["ticket"]
