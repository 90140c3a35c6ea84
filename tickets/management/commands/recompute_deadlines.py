"""Recompute the open tickets' deadlines on one calendar (what the admin queues after an edit)."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from sla.models import Calendar
from tickets.services import tickets_deadlines_recompute


class Command(BaseCommand):
    help = "Recompute the deadlines of the open tickets timed by CALENDAR (e.g. cn-gov)."

    def add_arguments(self, parser):
        parser.add_argument("calendar", help="the calendar's code")

    def handle(self, *args, calendar: str, **options):
        if not Calendar.objects.filter(code=calendar).exists():
            raise CommandError(f"no calendar with code {calendar!r}")
        changed = tickets_deadlines_recompute(calendar_code=calendar, now=timezone.now())
        self.stdout.write(f"{changed} open tickets got new deadlines.")
