"""SLA hooks called by ticket services inside their transaction (interim implementation).

Contract: each ``sla_ticket_*`` function may set the ticket's SLA fields (``response_due``,
``resolution_due``, ``paused_at``, ``paused_working_seconds``) in memory and returns the names
of the fields it changed; the calling ticket service saves them with its own ``update_fields``.
"""

from __future__ import annotations

from datetime import datetime

from sla.calendar import (
    add_working_time,
    always_open_calendar,
    cn_gov_calendar,
    working_minutes_between,
)

_CN_GOV = cn_gov_calendar()
_24X7 = always_open_calendar()

# (kind, grade) → (calendar, response minutes, resolution minutes)
_DEFAULTS = {
    ("incident", 1): (_24X7, 15, 60),
    ("incident", 2): (_CN_GOV, 30, 240),
    ("incident", 3): (_CN_GOV, 120, 2100),
    ("request", None): (_CN_GOV, 120, 3 * 420),
    ("complaint", None): (_CN_GOV, 420, 5 * 420),
}


def _policy(ticket):
    return _DEFAULTS.get((ticket.kind, ticket.grade if ticket.kind == "incident" else None))


def sla_ticket_prepare(*, ticket) -> set[str]:
    """Compute and set the deadlines of a ticket (new, or reclassified) from ``reported_at``."""
    policy = _policy(ticket)
    if policy is None:
        return set()
    calendar, response, resolution = policy
    ticket.response_due = add_working_time(ticket.reported_at, response, calendar)
    ticket.resolution_due = add_working_time(
        ticket.reported_at, resolution + ticket.paused_working_seconds / 60, calendar
    )
    return {"response_due", "resolution_due"}


def sla_ticket_opened(*, ticket) -> None:
    return None


def sla_ticket_reclassified(*, ticket) -> set[str]:
    return sla_ticket_prepare(ticket=ticket)


def sla_ticket_dispatched(*, ticket, dispatch) -> None:
    policy = _policy(ticket)
    if policy is not None:
        calendar, response, _ = policy
        dispatch.response_due = add_working_time(dispatch.dispatched_at, response, calendar)
        dispatch.save(update_fields=["response_due"])


def sla_ticket_responded(*, ticket, at: datetime) -> set[str]:
    return set()


def sla_ticket_paused(*, ticket, at: datetime) -> set[str]:
    ticket.paused_at = at
    return {"paused_at"}


def sla_ticket_resumed(*, ticket, at: datetime) -> set[str]:
    policy = _policy(ticket)
    calendar = policy[0] if policy else _24X7
    paused = working_minutes_between(ticket.paused_at, at, calendar)
    ticket.paused_working_seconds += round(paused * 60)
    ticket.paused_at = None
    return {"paused_at", "paused_working_seconds", *sla_ticket_prepare(ticket=ticket)}


def sla_ticket_resolved(*, ticket, at: datetime) -> set[str]:
    return set()


def sla_ticket_reopened(*, ticket, at: datetime) -> set[str]:
    return set()


def sla_ticket_finished(*, ticket, at: datetime) -> set[str]:
    return set()
