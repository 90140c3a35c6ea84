"""Keyset ("cursor") pagination: constant cost at any depth, unlike OFFSET.

A page is ordered by one field plus ``id`` as the tie-breaker. The cursor is the (value, id)
of the row at the page edge, so the next page is an index seek — page 40,000 of a million rows
costs what page 1 costs. ``NULL`` values sort last in both directions.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import BooleanField, F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.dateparse import parse_datetime

from opsdesk.errors import ValidationFailed


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None
    previous_cursor: str | None


def encode_cursor(value: Any, pk: int) -> str:
    if isinstance(value, datetime):
        value = {"dt": value.isoformat()}
    raw = json.dumps([value, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if isinstance(value, dict):
            value = parse_datetime(value["dt"])
            if value is None:
                raise ValueError("bad datetime")
        return value, int(pk)
    except (ValueError, TypeError, KeyError, json.JSONDecodeError) as exc:
        raise ValidationFailed("Invalid page cursor.", field="cursor") from exc


def _row_compare(model, field: str, op: str, value: Any, pk: int) -> RawSQL:
    """``(field, id) <op> (value, pk)``: a row comparison PostgreSQL serves from one index seek.

    The equivalent ``field < v OR (field = v AND id < pk)`` is only a filter to the planner,
    so a deep page would walk the index from the top.
    """
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    model_field = model._meta.get_field(field)
    column = quote(model_field.column)
    sql = f"({table}.{column}, {table}.{quote('id')}) {op} (%s, %s)"
    # Raw parameters skip Django's adaptation; do it here (SQLite stores datetimes as text).
    db_value = model_field.get_db_prep_value(value, connection)
    return RawSQL(sql, (db_value, pk), output_field=BooleanField())


def _beyond(model, field: str, descending: bool, value: Any, pk: int):
    """Rows strictly after (value, pk) in the order ``field [desc] NULLS LAST, id [desc]``."""
    id_after = Q(id__lt=pk) if descending else Q(id__gt=pk)
    if field == "id":
        return id_after
    if value is None:
        return Q(**{f"{field}__isnull": True}) & id_after
    after = _row_compare(model, field, "<" if descending else ">", value, pk)
    if model._meta.get_field(field).null:
        return Q(after) | Q(**{f"{field}__isnull": True})
    return after


def _before(model, field: str, descending: bool, value: Any, pk: int):
    """Rows strictly before (value, pk) in the same order."""
    id_before = Q(id__gt=pk) if descending else Q(id__lt=pk)
    if field == "id":
        return id_before
    if value is None:
        return Q(**{f"{field}__isnull": False}) | (Q(**{f"{field}__isnull": True}) & id_before)
    return _row_compare(model, field, ">" if descending else "<", value, pk)


def _ordering(field: str, descending: bool, reverse: bool, nullable: bool) -> list:
    """The page order, or its exact mirror when walking backwards from a ``before`` cursor.

    NULLS placement is only spelled out for nullable columns: ``ORDER BY id DESC NULLS LAST``
    does not match a plain b-tree index, and PostgreSQL would sort the whole table instead.
    """
    field_desc = descending != reverse
    nulls = {}
    if nullable:
        nulls = {"nulls_first": True} if reverse else {"nulls_last": True}
    expr = F(field).desc(**nulls) if field_desc else F(field).asc(**nulls)
    return [expr, "-id" if field_desc else "id"]


def paginate(
    queryset: QuerySet,
    *,
    field: str,
    descending: bool,
    page_size: int,
    after: str | None = None,
    before: str | None = None,
    item: Callable[[Any], Any] | None = None,
) -> Page:
    """One page of ``queryset`` ordered by ``field`` then ``id``; ``after``/``before`` cursors.

    ``item`` turns each fetched row (e.g. a ``values_list`` tuple) into the page's item, which
    must have ``pk`` and ``field`` as attributes.
    """
    reverse = bool(before) and not after
    qs = queryset
    if after:
        qs = qs.filter(_beyond(queryset.model, field, descending, *decode_cursor(after)))
    elif before:
        qs = qs.filter(_before(queryset.model, field, descending, *decode_cursor(before)))
    nullable = queryset.model._meta.get_field(field).null
    qs = qs.order_by(*_ordering(field, descending, reverse, nullable))
    rows = list(qs[: page_size + 1])
    if item is not None:
        rows = [item(row) for row in rows]
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    if reverse:
        rows.reverse()
    if not rows:
        return Page(items=[], next_cursor=None, previous_cursor=None)

    def cursor_of(row) -> str:
        return encode_cursor(getattr(row, field), row.pk)

    forward_more = has_more if not reverse else True
    backward_more = bool(after) if not reverse else has_more
    return Page(
        items=rows,
        next_cursor=cursor_of(rows[-1]) if forward_more else None,
        previous_cursor=cursor_of(rows[0]) if backward_more else None,
    )
