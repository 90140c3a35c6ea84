"""The demo data set, assembled from each app's own demo seeders."""

from django.db import transaction

from directory.demo import DEMO_PASSWORD, USERS, seed_directory
from tickets.demo import seed_tickets

DEMO_ACCOUNTS_HELP = "Demo accounts (password {password}): {users}".format(
    password=DEMO_PASSWORD, users=", ".join(username for username, *_ in USERS)
)


@transaction.atomic
def seed_demo(*, tickets: int = 300) -> None:
    """Idempotent: the directory is upserted; tickets are only added when none exist yet."""
    seed_directory()
    seed_tickets(count=tickets)
