from django.db import migrations

from opsdesk.migration_ops import PostgresOnlySQL

# (name, columns): the list's ascending sorts (each deadline, grade, status; then id) and the
# kind filter, each one index range instead of a sort or a walk of all tickets. On a million
# tickets, sorting by resolution deadline took 300 ms; filtering a kind few tickets have, 90 ms.
INDEXES = [
    ("ticket_resolution_due_id", "resolution_due, id"),
    ("ticket_response_due_id", "response_due, id"),
    ("ticket_grade_id", "grade, id"),
    ("ticket_status_id_asc", "status, id"),
    ("ticket_kind_id", "kind, id"),
]


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("tickets", "0004_vendor_open_due_index")]

    operations = [
        PostgresOnlySQL(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON tickets_ticket ({columns});",
            reverse_sql=f"DROP INDEX CONCURRENTLY IF EXISTS {name};",
        )
        for name, columns in INDEXES
    ]
