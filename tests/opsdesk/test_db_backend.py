"""The PostgreSQL backend's timestamptz loader: psycopg's C parser, Django's semantics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from psycopg.postgres import types

from opsdesk.db.postgresql.base import FastTzLoader, OptimisedTimestamptzLoader

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _select(sql: str, params=()) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def test_django_cursors_read_timestamptz_with_the_fast_loader():
    with connection.cursor() as cursor:
        loader = cursor.connection.adapters.get_loader(types["timestamptz"].oid, 0)

    assert issubclass(loader, FastTzLoader)
    assert loader.timezone == connection.timezone


def test_the_parser_is_psycopgs_optimised_one():
    import psycopg_binary  # noqa: F401 - installed with psycopg[binary]

    assert OptimisedTimestamptzLoader.__module__.startswith("psycopg_binary")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28 08:30:00.000001+08", datetime(2026, 11, 28, 0, 30, 0, 1, tzinfo=UTC)),
        ("2026-06-30 23:59:59.999999-03:30", datetime(2026, 7, 1, 3, 29, 59, 999999, tzinfo=UTC)),
        ("1900-01-01 00:00:00+08", datetime(1899, 12, 31, 16, 0, tzinfo=UTC)),
    ],
)
def test_values_read_back_as_the_same_instant_in_utc(text, expected):
    (value,) = _select("SELECT %s::timestamptz", [text])

    assert value == expected
    assert value.utcoffset() == timedelta(0)
    assert value.tzinfo is connection.timezone


def test_a_stored_datetime_round_trips_exactly():
    moment = datetime(2026, 2, 17, 9, 15, 30, 123456, tzinfo=timezone(timedelta(hours=8)))

    (value, null) = _select("SELECT %s::timestamptz, NULL::timestamptz", [moment])

    assert value == moment
    assert null is None
