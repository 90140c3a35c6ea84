from django.db import migrations

from opsdesk.migration_ops import PostgresOnlySQL


class Migration(migrations.Migration):
    """The vendor home's order: a vendor's open tickets, nearest resolution deadline first.

    Without it PostgreSQL fetched every open ticket of the vendor and sorted them for each page
    (1M tickets, 33k open for one vendor: 107 ms); with it the page is an index range (0.1 ms).
    The key matches the keyset order ``resolution_due ASC NULLS LAST, id``.
    """

    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("tickets", "0003_open_queues_index")]

    operations = [
        PostgresOnlySQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ticket_vendor_open_due"
            " ON tickets_ticket (vendor_id, resolution_due, id)"
            " WHERE status IN ('new', 'assigned', 'accepted', 'in_progress', 'pending');",
            reverse_sql="DROP INDEX CONCURRENTLY IF EXISTS ticket_vendor_open_due;",
        ),
    ]
