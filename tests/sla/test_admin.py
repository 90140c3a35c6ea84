"""SLA administration: Chinese labels, the missing-holidays warning, validation, cache."""

from __future__ import annotations

from datetime import time

import pytest
from django.urls import reverse

from sla.models import (
    Calendar,
    EscalationRule,
    EscalationSchedule,
    Metric,
    SlaPolicy,
    WorkingPeriod,
)
from tests import factories
from tests.sla.factories import at, create_ticket, travel
from tickets.models import Kind

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    ("model", "heading"),
    [
        ("calendar", "工作日历"),
        ("calendaroverride", "例外日期"),
        ("slapolicy", "服务级别策略"),
        ("escalationrule", "升级规则"),
        ("slaoutcome", "SLA 考核结果"),
        ("escalationschedule", "升级计划"),
        ("slapause", "挂起区间"),
    ],
)
def test_every_sla_list_opens_with_chinese_labels(admin_client, model, heading):
    response = admin_client.get(reverse(f"admin:sla_{model}_changelist"))
    assert response.status_code == 200
    assert heading in response.content.decode()


def test_calendar_list_warns_when_next_years_holidays_are_missing(admin_client):
    with travel(at(2026, 11, 28, 10, 0)):
        response = admin_client.get(reverse("admin:sla_calendar_changelist"))
    assert "尚未录入 2027 年的法定节假日和调休安排" in response.content.decode()


def _calendar_form(calendar: Calendar, periods: list[tuple[int, str, str]]) -> dict:
    data = {
        "code": calendar.code,
        "name": calendar.name,
        "timezone": calendar.timezone,
        "use_statutory_holidays": "on",
        "periods-TOTAL_FORMS": str(len(periods)),
        "periods-INITIAL_FORMS": "0",
        "overrides-TOTAL_FORMS": "0",
        "overrides-INITIAL_FORMS": "0",
    }
    for index, (weekday, start, end) in enumerate(periods):
        data |= {
            f"periods-{index}-weekday": str(weekday),
            f"periods-{index}-start": start,
            f"periods-{index}-end": end,
        }
    return data


def test_overlapping_working_periods_are_refused(admin_client):
    calendar = Calendar.objects.create(code="night", name="夜班")
    url = reverse("admin:sla_calendar_change", args=[calendar.pk])
    response = admin_client.post(
        url, _calendar_form(calendar, [(0, "08:00", "12:00"), (0, "11:00", "13:00")])
    )
    assert response.status_code == 200
    assert "工作时段重叠" in response.content.decode()
    assert not WorkingPeriod.objects.filter(calendar=calendar).exists()


def test_a_calendar_edit_applies_to_the_next_ticket_at_once(admin_client):
    # given a night-shift calendar used by grade-3 faults
    calendar = Calendar.objects.create(code="night", name="夜班")
    SlaPolicy.objects.filter(kind=Kind.INCIDENT, grade=3, system=None).update(calendar=calendar)
    url = reverse("admin:sla_calendar_change", args=[calendar.pk])
    # when its Monday hours are entered in the admin
    response = admin_client.post(url, _calendar_form(calendar, [(0, "20:00", "00:00")]))
    assert response.status_code == 302
    assert WorkingPeriod.objects.get(calendar=calendar).end == time(0)
    # then the next fault counts from 20:00: 120 working minutes → 22:00
    ticket = create_ticket(reported_at=at(2026, 3, 9, 9, 0), grade=3)
    assert ticket.response_due == at(2026, 3, 9, 22, 0)


def test_a_policy_edit_applies_to_the_next_ticket_at_once(admin_client):
    policy = SlaPolicy.objects.get(kind=Kind.REQUEST, grade=None, system=None)
    response = admin_client.post(
        reverse("admin:sla_slapolicy_change", args=[policy.pk]),
        {
            "kind": Kind.REQUEST,
            "grade": "",
            "system": "",
            "calendar": policy.calendar_id,
            "response_minutes": "60",
            "resolution_minutes": "1260",
            "is_active": "on",
            "note": "",
        },
    )
    assert response.status_code == 302
    ticket = create_ticket(reported_at=at(2026, 3, 9, 9, 0), kind=Kind.REQUEST)
    assert ticket.response_due == at(2026, 3, 9, 10, 0)


def test_deactivating_a_rule_in_the_admin_cancels_its_pending_levels(admin_client):
    create_ticket(reported_at=at(2026, 3, 9, 9, 0), grade=2)
    rule = EscalationRule.objects.get(metric=Metric.RESPONSE, fraction=0.5)
    assert EscalationSchedule.objects.filter(rule=rule, fired_at__isnull=True).count() == 1
    response = admin_client.post(
        reverse("admin:sla_escalationrule_change", args=[rule.pk]),
        {
            "name": rule.name,
            "metric": rule.metric,
            "fraction": "0.5",
            "kind": "",
            "grade": "",
            "notify_engineer": "on",
        },
    )
    assert response.status_code == 302
    assert not EscalationSchedule.objects.filter(rule=rule).exists()


def test_outcomes_cannot_be_edited_in_the_admin(admin_client):
    response = admin_client.get(reverse("admin:sla_slaoutcome_add"))
    assert response.status_code == 403
