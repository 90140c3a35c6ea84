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

from django.db.models import BooleanField, F, Func, Q, QuerySet, Value
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


class _RowCompare(Func):
    """``(field, id) <op> (value, pk)``: a row comparison PostgreSQL serves from one index seek.

    The equivalent ``field < v OR (field = v AND id < pk)`` is only a filter to the planner,
    so a deep page would walk the index from the top. Compiled column by column, so the
    columns carry the alias of whichever query (or subquery) the filter lands in.
    """

    output_field = BooleanField()

    def __init__(self, model, field: str, op: str, value: Any, pk: int):
        model_field = model._meta.get_field(field)
        super().__init__(F(field), F("id"), Value(value, output_field=model_field), Value(pk))
        self.op = op

    def as_sql(self, compiler, connection, **extra_context):
        parts, params = [], []
        for expression in self.get_source_expressions():
            sql, expression_params = compiler.compile(expression)
            parts.append(sql)
            params.extend(expression_params)
        field, pk, value, cursor_pk = parts
        return f"({field}, {pk}) {self.op} ({value}, {cursor_pk})", params


def _past(model, field: str, walking_desc: bool, value: Any, pk: int):
    """Rows strictly past (value, pk) when walking ``field, id`` in that direction."""
    if field == "id":
        return Q(id__lt=pk) if walking_desc else Q(id__gt=pk)
    return _RowCompare(model, field, "<" if walking_desc else ">", value, pk)


def _walk(
    queryset: QuerySet,
    field: str,
    descending: bool,
    backwards: bool,
    cursor,
    limit: int,
    fetch: Callable[[QuerySet], list],
) -> list:
    """Up to ``limit`` rows past ``cursor`` (or from the start), in walking order.

    The page order is ``field [desc], id [desc]`` with NULLs last; ``backwards`` walks it in
    reverse (from a ``before`` cursor). A nullable column is read as two index ranges, never as
    one condition with ``OR … IS NULL``, which no index serves (a deep page sorted by a deadline
    took 300 ms on a million rows): the rows with a value, and the NULL rows by id.
    """
    model = queryset.model
    walking_desc = descending != backwards
    id_order = "-id" if walking_desc else "id"
    order = [id_order]
    if field != "id":
        order.insert(0, F(field).desc() if walking_desc else F(field).asc())
    if field == "id" or not model._meta.get_field(field).null:
        rows_range = queryset.order_by(*order)
        if cursor is not None:
            rows_range = rows_range.filter(_past(model, field, walking_desc, *cursor))
        return fetch(rows_range[:limit])

    values = queryset.filter(**{f"{field}__isnull": False}).order_by(*order)
    nulls = queryset.filter(**{f"{field}__isnull": True}).order_by(id_order)
    if cursor is None:
        ranges = [nulls, values] if backwards else [values, nulls]
    elif cursor[0] is None:  # in the NULL range, which ends the page order
        nulls = nulls.filter(_past(model, "id", walking_desc, None, cursor[1]))
        ranges = [nulls, values] if backwards else [nulls]
    else:
        values = values.filter(_past(model, field, walking_desc, *cursor))
        ranges = [values] if backwards else [values, nulls]
    rows: list = []
    for rows_range in ranges:
        rows += fetch(rows_range[: limit - len(rows)])
        if len(rows) >= limit:
            break
    return rows


def paginate(
    queryset: QuerySet,
    *,
    field: str,
    descending: bool,
    page_size: int,
    after: str | None = None,
    before: str | None = None,
    fetch: Callable[[QuerySet], list] = list,
) -> Page:
    """One page of ``queryset`` ordered by ``field`` then ``id``; ``after``/``before`` cursors.

    ``fetch`` reads an ordered, sliced range of ``queryset`` into the page's items (by default
    the model instances), which must have ``pk`` and ``field`` as attributes.
    """
    reverse = bool(before) and not after
    cursor = decode_cursor(after) if after else decode_cursor(before) if before else None
    rows = _walk(queryset, field, descending, reverse, cursor, page_size + 1, fetch)
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
