"""Deadlines, pauses, vendor clocks and frozen outcomes, through the ticket services.

Expected instants are worked out by hand from the default policies and written as literals.
Holiday facts (chinesecalendar 1.11): 2025 National Day 10-01..10-08 off, Sun 09-28 and
Sat 10-11 work; 2026 Spring Festival 02-15..02-23 off, Sat 02-14 works; the package has no data
for 2027 (2027-01-01 is a Friday). ``cn-gov`` works 08:30–12:00 and 14:00–17:30.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from sla.models import (
    Calendar,
    CalendarOverride,
    EscalationSchedule,
    Metric,
    OverrideKind,
    SlaOutcome,
    SlaPolicy,
)
from sla.services import sla_config_changed
from tests import factories
from tests.sla.factories import (
    accept,
    accepted_incident,
    assign,
    at,
    create_ticket,
    pend,
    regrade,
    resolve,
    resume,
    system_policy,
    travel,
)
from tickets import services
from tickets.models import Kind

pytestmark = pytest.mark.django_db


# --- deadlines on creation, one per default policy ----------------------------------------


def test_grade_2_skips_the_lunch_break_and_keeps_the_seconds():
    # given a grade-2 fault reported at 11:45:30 on an ordinary Monday
    ticket = create_ticket(reported_at=at(2026, 3, 9, 11, 45, 30), grade=2)
    # then 30 working minutes: 14.5 before lunch, 15.5 after it
    assert ticket.response_due == at(2026, 3, 9, 14, 15, 30)
    # and 240: 14.5 + 210 on Monday, 15.5 on Tuesday morning
    assert ticket.resolution_due == at(2026, 3, 10, 8, 45, 30)
    ticket.refresh_from_db()
    assert ticket.resolution_due == at(2026, 3, 10, 8, 45, 30)


def test_grade_1_runs_around_the_clock():
    # given a grade-1 fault at 03:10 on a Saturday
    ticket = create_ticket(reported_at=at(2026, 3, 14, 3, 10), grade=1)
    # then 15 and 60 plain minutes
    assert ticket.response_due == at(2026, 3, 14, 3, 25)
    assert ticket.resolution_due == at(2026, 3, 14, 4, 10)


def test_grade_3_reported_friday_17_00_before_national_day():
    # given a grade-3 fault at 17:00 on Friday 2025-09-26; Sunday 09-28 is a make-up day
    ticket = create_ticket(reported_at=at(2025, 9, 26, 17, 0), grade=3)
    # then 120 working minutes: 30 on Friday, 90 on the make-up Sunday
    assert ticket.response_due == at(2025, 9, 28, 10, 0)
    # and 2100: 30 Fri + 420 Sun + 420 Mon + 420 Tue, holiday 10-01..10-08, 420 Thu 10-09,
    # then 390 on Friday 10-10: 210 in the morning and 180 from 14:00
    assert ticket.resolution_due == at(2025, 10, 10, 17, 0)


def test_request_across_spring_festival_counts_the_make_up_saturday():
    # given a request at 16:00 on Thursday 2026-02-12
    ticket = create_ticket(reported_at=at(2026, 2, 12, 16, 0), kind=Kind.REQUEST)
    # then 120: 90 on Thursday, 30 on Friday morning
    assert ticket.response_due == at(2026, 2, 13, 9, 0)
    # and 1260: 90 Thu + 420 Fri + 420 make-up Sat 02-14, holiday 02-15..02-23, 330 on Tue 02-24
    assert ticket.resolution_due == at(2026, 2, 24, 16, 0)


def test_complaint_reported_on_sunday_starts_on_monday_and_may_end_at_a_period_end():
    ticket = create_ticket(reported_at=at(2026, 3, 8, 10, 0), kind=Kind.COMPLAINT)
    # one working day: all of Monday, ending at 17:30 itself
    assert ticket.response_due == at(2026, 3, 9, 17, 30)
    assert ticket.resolution_due == at(2026, 3, 13, 17, 30)


@pytest.mark.parametrize(
    ("reported", "response_due"),
    [
        (at(2026, 3, 10, 8, 30), at(2026, 3, 10, 9, 0)),  # the first working instant
        (at(2026, 3, 10, 11, 50), at(2026, 3, 10, 14, 20)),  # across lunch
        (at(2026, 3, 10, 12, 0), at(2026, 3, 10, 14, 30)),  # 12:00 is not working time
        (at(2026, 3, 10, 12, 30), at(2026, 3, 10, 14, 30)),  # reported during lunch
        (at(2026, 3, 10, 17, 30), at(2026, 3, 11, 9, 0)),  # reported at closing time
        (at(2026, 3, 10, 22, 15), at(2026, 3, 11, 9, 0)),  # reported at night
    ],
)
def test_grade_2_response_at_period_boundaries(reported, response_due):
    ticket = create_ticket(reported_at=reported, grade=2)
    assert ticket.response_due == response_due


def test_task_has_no_policy_but_keeps_the_desks_due_date():
    due = at(2026, 3, 20, 17, 0)
    ticket = create_ticket(
        reported_at=at(2026, 3, 9, 9, 0), kind=Kind.TASK, resolution_due=due, system=None
    )
    assert ticket.response_due is None
    assert ticket.resolution_due == due


def test_year_beyond_the_package_data_uses_weekdays_and_never_raises():
    # given a report on the last working afternoon of 2026; 2027 is not in chinesecalendar
    ticket = create_ticket(reported_at=at(2026, 12, 31, 17, 0), grade=3)
    # then Friday 2027-01-01 counts as an ordinary Friday: 30 + 90 minutes
    assert ticket.response_due == at(2027, 1, 1, 10, 0)

    # when the supervisor enters New Year's Day as a holiday override
    cn_gov = Calendar.objects.get(code="cn-gov")
    CalendarOverride.objects.create(calendar=cn_gov, date=at(2027, 1, 1).date(), kind="holiday")
    sla_config_changed()
    later = create_ticket(reported_at=at(2026, 12, 31, 17, 0), grade=3)
    # then the holiday is skipped: Monday 2027-01-04
    assert later.response_due == at(2027, 1, 4, 10, 0)


def test_make_up_day_override_in_an_uncovered_year_works_on_a_saturday():
    cn_gov = Calendar.objects.get(code="cn-gov")
    CalendarOverride.objects.create(
        calendar=cn_gov, date=at(2028, 1, 8).date(), kind=OverrideKind.WORKDAY, note="补班"
    )
    sla_config_changed()
    # a grade-2 fault at 17:15 on Friday 2028-01-07: 15 minutes, then the make-up Saturday
    ticket = create_ticket(reported_at=at(2028, 1, 7, 17, 15), grade=2)
    assert ticket.response_due == at(2028, 1, 8, 8, 45)


def test_system_specific_policy_wins_over_the_generic_one():
    special = factories.BusinessSystemFactory()
    system_policy(system=special, grade=2, calendar_code="24x7", response=60, resolution=120)
    # a grade-2 fault at 20:00 on the special system runs on its own 24x7 policy
    ticket = create_ticket(reported_at=at(2026, 3, 9, 20, 0), grade=2, system=special)
    assert ticket.response_due == at(2026, 3, 9, 21, 0)
    assert ticket.resolution_due == at(2026, 3, 9, 22, 0)
    # another system keeps the generic grade-2 policy
    other = create_ticket(reported_at=at(2026, 3, 9, 20, 0), grade=2)
    assert other.response_due == at(2026, 3, 10, 9, 0)


def test_changing_kind_or_system_recomputes_the_deadlines():
    desk = factories.desk_agent()
    special = factories.BusinessSystemFactory()
    SlaPolicy.objects.create(
        kind=Kind.COMPLAINT,
        system=special,
        calendar=Calendar.objects.get(code="cn-gov"),
        response_minutes=60,
        resolution_minutes=120,
    )
    sla_config_changed()
    ticket = create_ticket(reported_at=at(2026, 3, 9, 9, 0), kind=Kind.REQUEST, actor=desk)
    assert ticket.response_due == at(2026, 3, 9, 11, 0)

    with travel(at(2026, 3, 9, 9, 5)):
        ticket = services.ticket_update(
            actor=desk, ticket_id=ticket.pk, changes={"kind": Kind.COMPLAINT}
        )
    assert ticket.response_due == at(2026, 3, 10, 9, 0)  # 420: 390 on Monday, 30 on Tuesday
    with travel(at(2026, 3, 9, 9, 6)):
        ticket = services.ticket_update(
            actor=desk, ticket_id=ticket.pk, changes={"system": special}
        )
    ticket.refresh_from_db()
    assert ticket.response_due == at(2026, 3, 9, 10, 0)
    assert ticket.resolution_due == at(2026, 3, 9, 11, 0)


def test_regrade_restarts_from_the_report_time():
    ticket = create_ticket(reported_at=at(2026, 3, 9, 9, 0), grade=3)
    ticket = regrade(ticket, 2, when=at(2026, 3, 9, 9, 10))
    assert ticket.response_due == at(2026, 3, 9, 9, 30)
    assert ticket.resolution_due == at(2026, 3, 9, 15, 0)  # 180 + 60


# --- pause and resume ------------------------------------------------------------------


def test_resume_moves_the_resolution_deadline_by_exactly_the_working_time_pending():
    # given a grade-3 fault from Monday 09:00: due next Monday 09:00 (five working days)
    ticket, engineer = accepted_incident(
        reported_at=at(2026, 3, 9, 9, 0), accepted_at=at(2026, 3, 9, 9, 10)
    )
    assert ticket.resolution_due == at(2026, 3, 16, 9, 0)
    # when it is pending from Tuesday 11:00 to 15:00 (60 + 60 working minutes)
    ticket = pend(ticket, engineer, when=at(2026, 3, 10, 11, 0))
    assert ticket.paused_at == at(2026, 3, 10, 11, 0)
    ticket = resume(ticket, engineer, when=at(2026, 3, 10, 15, 0))
    # then the deadline moves by 120 working minutes
    ticket.refresh_from_db()
    assert ticket.paused_at is None
    assert ticket.paused_working_seconds == 120 * 60
    assert ticket.resolution_due == at(2026, 3, 16, 11, 0)


def test_several_pauses_add_up():
    ticket, engineer = accepted_incident(
        reported_at=at(2026, 3, 9, 9, 0), accepted_at=at(2026, 3, 9, 9, 10)
    )
    ticket = pend(ticket, engineer, when=at(2026, 3, 10, 11, 0))
    ticket = resume(ticket, engineer, when=at(2026, 3, 10, 15, 0))  # 120
    ticket = pend(ticket, engineer, when=at(2026, 3, 11, 17, 0))
    ticket = resume(ticket, engineer, when=at(2026, 3, 12, 9, 30))  # 30 + 60
    assert ticket.paused_working_seconds == 210 * 60
    # Monday 09:00 + 210 working minutes: 180 before lunch, 30 after
    assert ticket.resolution_due == at(2026, 3, 16, 14, 30)


def test_regrade_during_a_pause_keeps_the_paused_time_excluded():
    ticket, engineer = accepted_incident(
        reported_at=at(2026, 3, 9, 9, 0), accepted_at=at(2026, 3, 9, 9, 10)
    )
    ticket = pend(ticket, engineer, when=at(2026, 3, 10, 11, 0))
    ticket = resume(ticket, engineer, when=at(2026, 3, 10, 15, 0))  # 120 excluded
    ticket = pend(ticket, engineer, when=at(2026, 3, 11, 10, 0))
    # when the fault is raised to grade 2 while pending
    ticket = regrade(ticket, 2, when=at(2026, 3, 11, 11, 0))
    # then 240 + the 120 already excluded: Monday 09:00 + 360 = Monday 17:00
    assert ticket.resolution_due == at(2026, 3, 9, 17, 0)
    # and on resume the running pause (120 + 30) is excluded as well: 240 + 270 = 510
    ticket = resume(ticket, engineer, when=at(2026, 3, 11, 14, 30))
    assert ticket.paused_working_seconds == 270 * 60
    assert ticket.resolution_due == at(2026, 3, 10, 10, 30)


def test_regrade_after_a_pause_remeasures_it_on_the_new_calendar():
    # given an overnight pause on cn-gov: 30 + 30 working minutes, but 16 hours of clock time
    ticket, engineer = accepted_incident(
        reported_at=at(2026, 3, 9, 9, 0), accepted_at=at(2026, 3, 9, 9, 10)
    )
    ticket = pend(ticket, engineer, when=at(2026, 3, 10, 17, 0))
    ticket = resume(ticket, engineer, when=at(2026, 3, 11, 9, 0))
    assert ticket.paused_working_seconds == 60 * 60
    # when it becomes grade 1 (24x7)
    ticket = regrade(ticket, 1, when=at(2026, 3, 11, 9, 5))
    # then the pause counts 16 hours on the 24x7 calendar: 09:00 + 60 min + 16 h
    assert ticket.paused_working_seconds == 16 * 3600
    assert ticket.resolution_due == at(2026, 3, 10, 2, 0)


def test_pause_suspends_and_resume_reschedules_resolution_escalations():
    ticket, engineer = accepted_incident(
        reported_at=at(2026, 3, 9, 9, 0), accepted_at=at(2026, 3, 9, 9, 10)
    )
    resolution_rows = EscalationSchedule.objects.filter(ticket=ticket, metric=Metric.RESOLUTION)
    ticket = pend(ticket, engineer, when=at(2026, 3, 10, 11, 0))
    assert list(resolution_rows.values_list("due_at", flat=True)) == [None, None, None]
    resume(ticket, engineer, when=at(2026, 3, 10, 15, 0))
    breach = resolution_rows.get(rule__fraction=1)
    assert breach.due_at == at(2026, 3, 16, 11, 0)


# --- response, vendor clocks and outcomes ------------------------------------------------


def test_accept_freezes_the_response_and_the_vendor_response():
    ticket, _engineer = accepted_incident(
        reported_at=at(2026, 3, 9, 9, 0), accepted_at=at(2026, 3, 9, 9, 40), grade=2
    )
    response = SlaOutcome.objects.get(ticket=ticket, metric=Metric.RESPONSE)
    assert response.met is False  # due 09:30
    assert response.due_at == at(2026, 3, 9, 9, 30)
    assert response.decided_at == at(2026, 3, 9, 9, 40)
    assert response.elapsed_working_minutes == Decimal("40.00")
    assert response.target_minutes == 30
    assert response.calendar_code == "cn-gov"
    assert response.vendor_id == ticket.vendor_id
    assert response.grade == 2
    vendor = SlaOutcome.objects.get(ticket=ticket, metric=Metric.VENDOR_RESPONSE)
    assert vendor.dispatch == ticket.dispatches.get()
    assert vendor.met is False
    assert not EscalationSchedule.objects.filter(
        ticket=ticket, metric=Metric.RESPONSE, fired_at__isnull=True
    ).exists()


def test_redispatch_starts_a_new_vendor_clock_while_the_ticket_clock_runs_on():
    desk = factories.desk_agent()
    first, second = factories.VendorFactory(), factories.VendorFactory()
    first_engineer = factories.vendor_engineer(first)
    second_engineer = factories.vendor_engineer(second)
    ticket = create_ticket(reported_at=at(2026, 3, 9, 9, 0), grade=2, actor=desk)
    ticket = assign(ticket, first, when=at(2026, 3, 9, 9, 0), actor=desk)
    ticket = accept(ticket, first_engineer, when=at(2026, 3, 9, 9, 20))
    # when the desk re-dispatches to another vendor at 10:00
    ticket = assign(ticket, second, when=at(2026, 3, 9, 10, 0), actor=desk)
    # then the new vendor has its own deadline; the requester-facing one is unchanged
    current = ticket.dispatches.get(ended_at__isnull=True)
    assert current.vendor == second
    assert current.response_due == at(2026, 3, 9, 10, 30)
    assert ticket.response_due == at(2026, 3, 9, 9, 30)
    # and each vendor is judged against its own clock
    accept(ticket, second_engineer, when=at(2026, 3, 9, 10, 45))
    outcomes = {
        outcome.vendor: outcome
        for outcome in SlaOutcome.objects.filter(ticket=ticket, metric=Metric.VENDOR_RESPONSE)
    }
    assert outcomes[first].met is True
    assert outcomes[second].met is False
    assert outcomes[second].elapsed_working_minutes == Decimal("45.00")
    assert SlaOutcome.objects.filter(ticket=ticket, metric=Metric.RESPONSE).count() == 1


def test_a_dispatch_withdrawn_after_its_deadline_is_a_breach_and_before_it_is_nothing():
    desk = factories.desk_agent()
    late, early, third = (factories.VendorFactory() for _ in range(3))
    ticket = create_ticket(reported_at=at(2026, 3, 9, 9, 0), grade=2, actor=desk)
    assign(ticket, early, when=at(2026, 3, 9, 9, 0), actor=desk)
    assign(ticket, late, when=at(2026, 3, 9, 9, 10), actor=desk)  # early withdrawn in time
    assign(ticket, third, when=at(2026, 3, 9, 10, 0), actor=desk)  # late's 09:40 has passed
    outcomes = SlaOutcome.objects.filter(metric=Metric.VENDOR_RESPONSE, ticket=ticket)
    assert [(outcome.vendor, outcome.met) for outcome in outcomes] == [(late, False)]
    assert outcomes.get().decided_at == at(2026, 3, 9, 10, 0)


def test_first_line_resolution_meets_the_response():
    desk = factories.desk_agent()
    ticket = create_ticket(reported_at=at(2026, 3, 9, 9, 0), grade=2, actor=desk)
    ticket = resolve(ticket, desk, when=at(2026, 3, 9, 9, 12))
    response = SlaOutcome.objects.get(ticket=ticket, metric=Metric.RESPONSE)
    assert response.met is True
    assert response.vendor is None
    assert response.elapsed_working_minutes == Decimal("12.00")
    assert SlaOutcome.objects.get(ticket=ticket, metric=Metric.RESOLUTION).met is True
    assert not EscalationSchedule.objects.filter(ticket=ticket, fired_at__isnull=True).exists()


def test_outcomes_stay_frozen_when_the_policy_is_edited_afterwards():
    ticket, engineer = accepted_incident(
        reported_at=at(2026, 3, 9, 9, 0), accepted_at=at(2026, 3, 9, 9, 20), grade=2
    )
    resolve(ticket, engineer, when=at(2026, 3, 9, 14, 30))  # 180 + 30 < 240
    before = list(SlaOutcome.objects.filter(ticket=ticket).values().order_by("id"))
    # when an administrator tightens grade 2 to 10/20 minutes
    SlaPolicy.objects.filter(kind=Kind.INCIDENT, grade=2, system=None).update(
        response_minutes=10, resolution_minutes=20
    )
    sla_config_changed()
    # then the decided outcomes and the stored deadlines do not change
    assert list(SlaOutcome.objects.filter(ticket=ticket).values().order_by("id")) == before
    resolution = SlaOutcome.objects.get(ticket=ticket, metric=Metric.RESOLUTION)
    assert resolution.met is True
    assert resolution.target_minutes == 240
    ticket.refresh_from_db()
    assert ticket.resolution_due == at(2026, 3, 9, 15, 0)
    # while new tickets get the new targets
    fresh = create_ticket(reported_at=at(2026, 3, 9, 9, 0), grade=2)
    assert fresh.response_due == at(2026, 3, 9, 9, 10)


def test_reopen_supersedes_the_resolution_outcome_and_excludes_the_time_resolved():
    desk = factories.desk_agent()
    ticket, engineer = accepted_incident(
        reported_at=at(2026, 3, 9, 9, 0), accepted_at=at(2026, 3, 9, 9, 20), grade=2
    )
    resolve(ticket, engineer, when=at(2026, 3, 9, 10, 0))
    with travel(at(2026, 3, 9, 11, 0)):  # 60 working minutes later
        ticket = services.ticket_reopen(actor=desk, ticket_id=ticket.pk, reason="问题复现")
    # the hour between resolution and reopen does not count: 15:00 + 60
    assert ticket.paused_working_seconds == 60 * 60
    assert ticket.resolution_due == at(2026, 3, 9, 16, 0)
    first = SlaOutcome.objects.get(ticket=ticket, metric=Metric.RESOLUTION)
    assert first.met is True
    assert first.superseded_at == at(2026, 3, 9, 11, 0)
    resolve(ticket, engineer, when=at(2026, 3, 9, 16, 30))
    current = SlaOutcome.objects.current().get(ticket=ticket, metric=Metric.RESOLUTION)
    assert current.met is False
    assert current.elapsed_working_minutes == Decimal("270.00")  # 180 + 150 - 60


def test_cancelling_freezes_a_deadline_that_had_passed_and_voids_the_others():
    desk = factories.desk_agent()
    ticket = create_ticket(reported_at=at(2026, 3, 9, 9, 0), grade=2, actor=desk)
    with travel(at(2026, 3, 9, 10, 0)):
        services.ticket_cancel(actor=desk, ticket_id=ticket.pk, reason="重复报障")
    outcomes = SlaOutcome.objects.filter(ticket=ticket)
    assert [(outcome.metric, outcome.met) for outcome in outcomes] == [(Metric.RESPONSE, False)]
    assert not EscalationSchedule.objects.filter(ticket=ticket, fired_at__isnull=True).exists()
