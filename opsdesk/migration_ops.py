"""Migration operations that only apply on PostgreSQL (trigram indexes and the like)."""

from django.db import migrations


class PostgresOnlySQL(migrations.RunSQL):
    """``RunSQL`` that is a no-op on other databases (the SQLite dev default)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
