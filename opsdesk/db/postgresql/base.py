"""Django's PostgreSQL backend, reading ``timestamptz`` values with psycopg's C parser.

Django registers its own ``timestamptz`` loader on every connection (to pin the connection's
time zone on each value) and derives it from psycopg's pure-Python loader, so even with
psycopg-binary installed every datetime read goes through a Python regular expression: about
3 µs a value, and one page of the ticket list reads some 150 of them. The loader below parses
with the optimised loader and then does exactly what Django's does. Django ticket #36960,
psycopg issue #1273. ``settings.py`` selects this backend for ``postgres://`` URLs.
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
