"""Seed the default calendars, policies and escalation rules of the issue (all admin-editable).

Calendars: ``cn-gov`` (Mon–Fri 08:30–12:00 and 14:00–17:30, Asia/Shanghai, statutory holidays)
and ``24x7``. Policies: incident grade 1 on 24x7 15/60 min; grade 2 30/240 and grade 3
120/2100 working min, request 120/1260, complaint 420/2100 on cn-gov; tasks have none (the
desk sets the due date). Rules: 50% → engineer, 80% → vendor manager and desk, 100% → desk
supervisor and centre leader, for response and resolution; grade 1 also notifies the desk
supervisor and leader on creation.
"""

from datetime import time
from decimal import Decimal

from django.db import migrations

CN_GOV = "cn-gov"
ALWAYS = "24x7"

POLICIES = [
    # (kind, grade, calendar, response minutes, resolution minutes, note)
    ("incident", 1, ALWAYS, 15, 60, "一级故障：7×24，15 分钟响应，1 小时解决"),
    ("incident", 2, CN_GOV, 30, 240, "二级故障：30 个工作分钟响应，半天（240 分钟）解决"),
    ("incident", 3, CN_GOV, 120, 2100, "三级故障：120 个工作分钟响应，5 个工作日解决"),
    ("request", None, CN_GOV, 120, 1260, "服务请求：120 个工作分钟响应，3 个工作日解决"),
    ("complaint", None, CN_GOV, 420, 2100, "投诉：1 个工作日响应，5 个工作日解决"),
]

RULES = [
    # (name, metric, fraction, kind, grade, recipients)
    ("响应过半提醒工程师", "response", "0.500", "", None, ["engineer"]),
    ("响应 80% 预警服务商经理和服务台", "response", "0.800", "", None, ["vendor_manager", "desk"]),
    (
        "响应超时上报主管和中心领导",
        "response",
        "1.000",
        "",
        None,
        ["desk_supervisor", "centre_leader"],
    ),
    ("解决过半提醒工程师", "resolution", "0.500", "", None, ["engineer"]),
    (
        "解决 80% 预警服务商经理和服务台",
        "resolution",
        "0.800",
        "",
        None,
        ["vendor_manager", "desk"],
    ),
    (
        "解决超时上报主管和中心领导",
        "resolution",
        "1.000",
        "",
        None,
        ["desk_supervisor", "centre_leader"],
    ),
    (
        "一级故障新建即通知主管和中心领导",
        "response",
        "0.000",
        "incident",
        1,
        ["desk_supervisor", "centre_leader"],
    ),
]


def seed(apps, schema_editor):
    Calendar = apps.get_model("sla", "Calendar")
    WorkingPeriod = apps.get_model("sla", "WorkingPeriod")
    SlaPolicy = apps.get_model("sla", "SlaPolicy")
    EscalationRule = apps.get_model("sla", "EscalationRule")

    cn_gov, created = Calendar.objects.get_or_create(
        code=CN_GOV,
        defaults={
            "name": "政务工作日（周一至周五 8:30–12:00、14:00–17:30）",
            "timezone": "Asia/Shanghai",
            "always_open": False,
            "use_statutory_holidays": True,
        },
    )
    if created:
        WorkingPeriod.objects.bulk_create(
            WorkingPeriod(calendar=cn_gov, weekday=weekday, start=start, end=end)
            for weekday in range(5)
            for start, end in ((time(8, 30), time(12, 0)), (time(14, 0), time(17, 30)))
        )
    always, _ = Calendar.objects.get_or_create(
        code=ALWAYS,
        defaults={
            "name": "7×24 全天候",
            "timezone": "Asia/Shanghai",
            "always_open": True,
            "use_statutory_holidays": False,
        },
    )
    calendars = {CN_GOV: cn_gov, ALWAYS: always}
    for kind, grade, calendar, response, resolution, note in POLICIES:
        SlaPolicy.objects.get_or_create(
            kind=kind,
            grade=grade,
            system=None,
            defaults={
                "calendar": calendars[calendar],
                "response_minutes": response,
                "resolution_minutes": resolution,
                "note": note,
            },
        )
    for name, metric, fraction, kind, grade, recipients in RULES:
        EscalationRule.objects.get_or_create(
            metric=metric,
            fraction=Decimal(fraction),
            kind=kind,
            grade=grade,
            defaults={
                "name": name,
                **{f"notify_{recipient}": True for recipient in recipients},
            },
        )


def unseed(apps, schema_editor):
    Calendar = apps.get_model("sla", "Calendar")
    SlaPolicy = apps.get_model("sla", "SlaPolicy")
    EscalationRule = apps.get_model("sla", "EscalationRule")
    EscalationSchedule = apps.get_model("sla", "EscalationSchedule")
    # Schedules reference rules (PROTECT); they are derived data and go with them.
    EscalationSchedule.objects.all().delete()
    for name, metric, fraction, kind, grade, _recipients in RULES:
        EscalationRule.objects.filter(
            metric=metric, fraction=Decimal(fraction), kind=kind, grade=grade, name=name
        ).delete()
    for kind, grade, _calendar, _response, _resolution, _note in POLICIES:
        SlaPolicy.objects.filter(kind=kind, grade=grade, system=None).delete()
    Calendar.objects.filter(code__in=[CN_GOV, ALWAYS], policies__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("sla", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
