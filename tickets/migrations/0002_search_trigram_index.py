from django.db import migrations

from opsdesk.migration_ops import PostgresOnlySQL


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("tickets", "0001_initial")]

    operations = [
        PostgresOnlySQL(
            "CREATE EXTENSION IF NOT EXISTS pg_trgm;",
            reverse_sql=migrations.RunSQL.noop,
        ),
        PostgresOnlySQL(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ticket_search_trgm "
            "ON tickets_ticket USING gin (search_text gin_trgm_ops);",
            reverse_sql="DROP INDEX CONCURRENTLY IF EXISTS ticket_search_trgm;",
        ),
    ]
