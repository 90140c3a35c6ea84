"""A calendar edit (a holiday, a make-up day) moves the deadlines of the open tickets it times."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from sla.models import Calendar, CalendarOverride, EscalationSchedule, OverrideKind
from sla.services import sla_config_changed
from sla.services.config import calendar_recompute_enqueue
from tests import factories
from tests.sla.factories import at, create_ticket, travel
from tickets import services
from tickets.models import EventAction, Ticket

pytestmark = pytest.mark.django_db

# Grade 2 on cn-gov: 240 working minutes. Reported Monday 7 Dec 16:00 → 90 minutes on Monday,
# the other 150 on Tuesday morning: due Tuesday 11:00, or Wednesday 11:00 once Tuesday is off.
REPORTED = at(2026, 12, 7, 16)
DUE = at(2026, 12, 8, 11)
DUE_WITHOUT_TUESDAY = at(2026, 12, 9, 11)


def _tuesday_off() -> None:
    calendar = Calendar.objects.get(code="cn-gov")
    CalendarOverride.objects.create(
        calendar=calendar, date=date(2026, 12, 8), kind=OverrideKind.HOLIDAY
    )
    sla_config_changed()


def _recompute() -> int:
    with travel(at(2026, 12, 7, 17)):
        return services.tickets_deadlines_recompute(calendar_code="cn-gov", now=timezone.now())


def test_a_holiday_inside_an_open_tickets_window_moves_its_resolution_deadline():
    ticket = create_ticket(reported_at=REPORTED, grade=2)
    assert ticket.resolution_due == DUE
    version = ticket.version

    _tuesday_off()
    assert _recompute() == 1

    ticket.refresh_from_db()
    assert ticket.resolution_due == DUE_WITHOUT_TUESDAY
    assert ticket.response_due == at(2026, 12, 7, 16, 30)  # before the holiday: unchanged
    assert ticket.version == version + 1
    event = ticket.events.latest("id")
    assert (event.action, event.actor) == (EventAction.UPDATED, None)
    assert event.changes["resolution_due"][1] == DUE_WITHOUT_TUESDAY.isoformat()
    assert "cn-gov" in event.note


def test_the_resolution_escalations_follow_the_new_deadline():
    ticket = create_ticket(reported_at=REPORTED, grade=2)
    _tuesday_off()

    _recompute()

    levels = EscalationSchedule.objects.filter(ticket=ticket, metric="resolution")
    assert max(level.due_at for level in levels) == DUE_WITHOUT_TUESDAY  # the 100 % level


def test_tickets_the_change_does_not_move_are_left_alone():
    later = create_ticket(reported_at=at(2026, 12, 9, 9), grade=2)  # after the holiday
    urgent = create_ticket(reported_at=REPORTED, grade=1)  # grade 1 runs on 24x7
    events = {t.pk: t.events.count() for t in (later, urgent)}

    _tuesday_off()
    assert _recompute() == 0

    for ticket in (later, urgent):
        before = ticket.resolution_due, ticket.version
        ticket.refresh_from_db()
        assert (ticket.resolution_due, ticket.version) == before
        assert ticket.events.count() == events[ticket.pk]


def test_finished_tickets_keep_their_deadlines():
    ticket = create_ticket(reported_at=REPORTED, grade=2)
    Ticket.objects.filter(pk=ticket.pk).update(status="closed")

    _tuesday_off()

    assert _recompute() == 0
    ticket.refresh_from_db()
    assert ticket.resolution_due == DUE


def test_adding_a_holiday_in_the_admin_recomputes_in_the_background(
    admin_client, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the worker's part runs inline here
    from opsdesk.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    try:
        ticket = create_ticket(reported_at=REPORTED, grade=2)
        calendar = Calendar.objects.get(code="cn-gov")

        with django_capture_on_commit_callbacks(execute=True), travel(at(2026, 12, 7, 17)):
            response = admin_client.post(
                "/admin/sla/calendaroverride/add/",
                {"calendar": calendar.pk, "date": "2026-12-08", "kind": "holiday", "note": "x"},
                follow=True,
            )
    finally:
        celery_app.conf.task_always_eager = False

    assert response.status_code == 200
    assert "后台重新计算" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.resolution_due == DUE_WITHOUT_TUESDAY


def test_with_the_broker_down_the_admin_edit_still_saves_and_says_what_to_run(dead_broker, caplog):
    assert calendar_recompute_enqueue(calendar_code="cn-gov") is False
    assert "manage.py recompute_deadlines cn-gov" in caplog.text


def test_the_command_recomputes_by_hand(capsys):
    create_ticket(reported_at=REPORTED, grade=2, actor=factories.desk_agent())
    _tuesday_off()

    with travel(at(2026, 12, 7, 17)):
        call_command("recompute_deadlines", "cn-gov")

    assert "1 open tickets got new deadlines." in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("recompute_deadlines", "no-such-calendar")
