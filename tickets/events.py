"""Audit rows for tickets: append-only, one per state change."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import models

from tickets.models import EventAction, Ticket, TicketEvent


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for the fields whose value changed, JSON-ready."""
    return {
        field: [_plain(before.get(field)), _plain(after[field])]
        for field in after
        if before.get(field) != after[field]
    }


def event_record(
    *,
    ticket: Ticket,
    actor,
    action: EventAction,
    at: datetime,
    from_status: str = "",
    changes: dict[str, list[Any]] | None = None,
    note: str = "",
) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket,
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        at=at,
        from_status=from_status,
        to_status=ticket.status if from_status else "",
        changes=changes or {},
        note=note,
    )
