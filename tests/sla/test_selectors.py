"""The SLA badge, the missing-holidays warning and the cached configuration."""

from __future__ import annotations

from datetime import date

import pytest
from django.template import Context, Template

from sla.models import Calendar, CalendarOverride, OverrideKind
from sla.selectors import calendar_data_warning, sla_config, sla_status
from sla.services import sla_config_changed, sla_ticket_prepare
from tests import factories
from tests.sla.factories import accepted_incident, at, create_ticket, pend, resolve
from tickets.models import Kind, Ticket

pytestmark = pytest.mark.django_db


# --- the badge ---------------------------------------------------------------------------


@pytest.fixture
def grade_2():
    """Reported Monday 09:00: response due 09:30, resolution due 15:00."""
    return create_ticket(reported_at=at(2026, 3, 9, 9, 0), grade=2)


def test_badge_on_track_shows_the_working_time_left_of_the_tighter_clock(grade_2):
    badge = sla_status(grade_2, at(2026, 3, 9, 9, 10))
    assert (badge.state, badge.metric, badge.label) == ("on_track", "response", "响应剩余 20分钟")
    assert badge.css_class == "sla-on-track"


def test_badge_is_at_risk_once_80_percent_of_a_target_has_elapsed(grade_2):
    badge = sla_status(grade_2, at(2026, 3, 9, 9, 25))
    assert (badge.state, badge.label) == ("at_risk", "响应剩余 5分钟")
    assert badge.css_class == "sla-at-risk"


def test_badge_shows_overdue_working_time_when_breached(grade_2):
    badge = sla_status(grade_2, at(2026, 3, 9, 14, 10))  # 09:30 → 12:00 and 14:00 → 14:10
    assert (badge.state, badge.label) == ("breached", "响应超时 2小时40分")
    assert badge.css_class == "sla-breached"


def test_badge_counts_working_time_not_clock_time_over_lunch():
    ticket = create_ticket(reported_at=at(2026, 3, 9, 11, 45), grade=2)  # response due 14:15
    badge = sla_status(ticket, at(2026, 3, 9, 12, 30))
    assert (badge.state, badge.label) == ("on_track", "响应剩余 15分钟")


def test_badge_follows_the_resolution_clock_after_the_response():
    ticket, _engineer = accepted_incident(
        reported_at=at(2026, 3, 9, 9, 0), accepted_at=at(2026, 3, 9, 9, 20), grade=2
    )
    badge = sla_status(ticket, at(2026, 3, 9, 14, 20))  # 40 of 240 left
    assert (badge.state, badge.metric, badge.label) == ("at_risk", "resolution", "剩余 40分钟")


def test_badge_of_a_paused_ticket_shows_the_time_left_when_it_was_paused():
    ticket, engineer = accepted_incident(
        reported_at=at(2026, 3, 9, 9, 0), accepted_at=at(2026, 3, 9, 9, 20), grade=2
    )
    ticket = pend(ticket, engineer, when=at(2026, 3, 9, 10, 0))
    badge = sla_status(ticket, at(2026, 3, 12, 9, 0))
    assert (badge.state, badge.label) == ("paused", "挂起中，剩余 3小时")


def test_badge_of_a_resolved_ticket_says_whether_it_was_in_time():
    ticket, engineer = accepted_incident(
        reported_at=at(2026, 3, 9, 9, 0), accepted_at=at(2026, 3, 9, 9, 20), grade=2
    )
    ticket = resolve(ticket, engineer, when=at(2026, 3, 9, 16, 0))
    badge = sla_status(ticket, at(2026, 3, 10, 9, 0))
    assert (badge.state, badge.label) == ("breached", "超时解决")


def test_badge_of_a_task_measures_plain_time_to_the_desks_date():
    ticket = create_ticket(
        reported_at=at(2026, 3, 9, 9, 0), kind=Kind.TASK, resolution_due=at(2026, 3, 9, 19, 0)
    )
    badge = sla_status(ticket, at(2026, 3, 9, 18, 0))
    assert (badge.state, badge.label) == ("at_risk", "剩余 1小时")


def test_badges_cost_no_queries_once_the_configuration_is_warm(grade_2, django_assert_num_queries):
    tickets = list(Ticket.objects.all())
    sla_config()
    with django_assert_num_queries(0):
        for ticket in tickets:
            sla_status(ticket, at(2026, 3, 9, 9, 10))


def test_template_tag_renders_a_bootstrap_badge(grade_2):
    html = Template("{% load sla_tags %}{% sla_badge ticket now %}").render(
        Context({"ticket": grade_2, "now": at(2026, 3, 9, 9, 25)})
    )
    assert 'class="badge text-bg-light border sla-badge sla-at-risk"' in html
    assert 'data-sla="at_risk"' in html
    assert "响应剩余 5分钟" in html
    assert 'title="响应时限 2026-03-09 09:30"' in html


def test_template_tag_shows_a_dash_for_a_ticket_without_sla():
    ticket = create_ticket(reported_at=at(2026, 3, 9, 9, 0), kind=Kind.TASK)
    html = Template("{% load sla_tags %}{% sla_badge ticket %}").render(Context({"ticket": ticket}))
    assert 'data-sla="none"' in html


# --- missing statutory data ---------------------------------------------------------------


def test_no_warning_while_the_years_ahead_are_covered():
    assert calendar_data_warning(date(2026, 6, 1)) is None


def test_warning_from_november_of_the_last_covered_year():
    warning = calendar_data_warning(date(2026, 11, 1))
    assert warning is not None
    assert "2027" in warning
    assert calendar_data_warning(date(2026, 10, 31)) is None


def test_warning_when_the_current_year_is_not_covered():
    assert "2027" in calendar_data_warning(date(2027, 3, 1))


def test_entering_next_years_holidays_as_overrides_silences_the_warning():
    CalendarOverride.objects.create(
        calendar=Calendar.objects.get(code="cn-gov"),
        date=date(2027, 1, 1),
        kind=OverrideKind.HOLIDAY,
        note="元旦",
    )
    sla_config_changed()
    assert calendar_data_warning(date(2026, 11, 28)) is None


# --- the cached configuration -------------------------------------------------------------


def test_deadlines_need_no_queries_once_the_configuration_is_warm(django_assert_num_queries):
    system = factories.BusinessSystemFactory()
    sla_config()
    with django_assert_num_queries(0):
        for grade in (1, 2, 3):
            ticket = Ticket(
                kind=Kind.INCIDENT, grade=grade, system=system, reported_at=at(2026, 3, 9, 9)
            )
            sla_ticket_prepare(ticket=ticket)
            assert ticket.response_due is not None
