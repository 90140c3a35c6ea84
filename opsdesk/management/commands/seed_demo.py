from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from opsdesk.demo import DEMO_ACCOUNTS_HELP, seed_demo


class Command(BaseCommand):
    help = "Load the demo data set (idempotent). Refused in production."

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=300, help="demo tickets to create")

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError(
                "seed_demo is for demonstrations only and refuses to run in production."
            )
        seed_demo(tickets=options["tickets"])
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self.stdout.write(DEMO_ACCOUNTS_HELP)
