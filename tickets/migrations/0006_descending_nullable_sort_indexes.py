from django.db import migrations

from opsdesk.migration_ops import PostgresOnlySQL

# The API sorts empty deadlines and grades last in both directions (tickets.api.ordering.TicketOrdering).
# Read backwards, the ascending indexes of 0005 give DESC NULLS FIRST, so a descending sort
# was a full sort of the table: 640 ms per API page on a million tickets. The list pages do
# not need these (they read the NULL rows as a separate range, opsdesk.keyset).
INDEXES = [
    ("ticket_resolution_due_desc", "resolution_due DESC NULLS LAST, id DESC"),
    ("ticket_grade_desc", "grade DESC NULLS LAST, id DESC"),
]


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("tickets", "0005_sort_and_kind_indexes")]

    operations = [
        PostgresOnlySQL(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON tickets_ticket ({columns});",
            reverse_sql=f"DROP INDEX CONCURRENTLY IF EXISTS {name};",
        )
        for name, columns in INDEXES
    ]
