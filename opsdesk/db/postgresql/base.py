"""Django's PostgreSQL backend, reading ``timestamptz`` values with psycopg's C parser, and
planning prepared statements for their actual parameters.

Django registers its own ``timestamptz`` loader on every connection (to pin the connection's
time zone on each value) and derives it from psycopg's pure-Python loader, so even with
psycopg-binary installed every datetime read goes through a Python regular expression: about
3 µs a value, and one page of the ticket list reads some 150 of them. The loader below parses
with the optimised loader and then does exactly what Django's does. Django ticket #36960,
psycopg issue #1273. ``settings.py`` selects this backend for ``postgres://`` URLs.

With prepared statements on (``OPSDESK_DB_PREPARED``), PostgreSQL switches a statement to a
generic plan after five runs, planned for average parameter values. Ticket statuses are skewed
(most tickets are closed, few are new), and for ``status = $1 ORDER BY id DESC LIMIT 26`` the
generic plan walks the primary key: the desk's "unassigned" queue took 190 ms on a million
tickets instead of 3. Each connection therefore asks for custom plans: a statement is still
parsed once, and planned (~0.3 ms) with its real values.
"""

from __future__ import annotations

from functools import lru_cache

from django.db.backends.postgresql import base
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg import adapt, adapters
from psycopg.types.datetime import TimestamptzLoader

# psycopg offers no public way to reach its C classes; without them this is the Python loader.
_get_optimised = getattr(adapters, "_get_optimised", lambda cls: cls)
OptimisedTimestamptzLoader = _get_optimised(TimestamptzLoader)


class FastTzLoader(BaseTzLoader):
    """Django's ``BaseTzLoader`` with the parsing done by ``OptimisedTimestamptzLoader``."""

    def __init__(self, oid, context=None):
        super().__init__(oid, context)
        self._parse = OptimisedTimestamptzLoader(oid, context).load

    def load(self, data):
        return self._parse(data).replace(tzinfo=self.timezone)


@lru_cache
def adapters_with_fast_tz_loader(template: adapt.AdaptersMap, timezone) -> adapt.AdaptersMap:
    """Django's adapters template for ``timezone`` with ``FastTzLoader`` in its loader's place."""
    context = adapt.AdaptersMap(template)
    # A ``timezone`` attribute equal to the connection's keeps Django's create_cursor() from
    # registering its own loader again on each cursor.
    loader = type(
        "FastSpecificTzLoader", (FastTzLoader,), {"timezone": timezone, "__module__": __name__}
    )
    context.register_loader("timestamptz", loader)
    return context


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        params["context"] = adapters_with_fast_tz_loader(params["context"], self.timezone)
        return params

    def init_connection_state(self):
        super().init_connection_state()
        if self.settings_dict["OPTIONS"].get("prepare_threshold") is not None:
            with self.connection.cursor() as cursor:
                cursor.execute("SET plan_cache_mode = force_custom_plan")
