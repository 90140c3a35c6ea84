"""The ticket API's ``?ordering=`` filter backend: a whitelist of sort keys, stable pages."""

from __future__ import annotations

from django.db.models import F
from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework.filters import BaseFilterBackend

from tickets.models import Ticket


class TicketOrdering(BaseFilterBackend):
    """``?ordering=`` over a whitelist, comma-separated, ``-`` for descending; default ``-id``.

    Unknown names are a 400 rather than silently ignored. ``id`` breaks ties so that pages are
    stable; empty deadlines sort last in both directions on every database.
    """

    param = "ordering"
    fields = {
        "number": "id",
        "reported_at": "reported_at",
        "updated_at": "updated_at",
        "resolution_due": "resolution_due",
        "grade": "grade",
    }

    def filter_queryset(self, request, queryset, view):
        raw = request.query_params.get(self.param, "")
        terms = [term.strip() for term in raw.split(",") if term.strip()]
        order: list = []
        descending = True  # the tie-breaker's direction: the last term's, so an index serves both
        for term in terms:
            column = self.fields.get(term.removeprefix("-"))
            if column is None:
                raise serializers.ValidationError(
                    {self.param: [_("不支持的排序字段：%(name)s") % {"name": term}]}
                )
            descending = term.startswith("-")
            # NULLS LAST only where there can be NULLs: spelled out on a NOT NULL column it
            # still keeps PostgreSQL from reading its index backwards (610 ms on 1M tickets).
            nulls = {"nulls_last": True} if Ticket._meta.get_field(column).null else {}
            order.append(F(column).desc(**nulls) if descending else F(column).asc(**nulls))
        if not any(term.removeprefix("-") == "number" for term in terms):
            order.append(F("id").desc() if descending else F("id").asc())
        return queryset.order_by(*order)

    def get_schema_operation_parameters(self, view):
        choices = [name for field in self.fields for name in (field, f"-{field}")]
        return [
            {
                "name": self.param,
                "required": False,
                "in": "query",
                "description": "Comma-separated sort keys, `-` for descending; default `-number`. "
                f"One of: {', '.join(choices)}.",
                "schema": {"type": "string"},
            }
        ]
