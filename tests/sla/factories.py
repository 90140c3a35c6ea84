"""SLA test helpers: tickets are created and moved through ``tickets.services`` only."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine

from directory.models import User, Vendor
from sla.models import Calendar, SlaPolicy
from sla.services import sla_config_changed
from tests import factories
from tickets import services
from tickets.models import Kind, Ticket
from tickets.services import TicketInput

SH = ZoneInfo("Asia/Shanghai")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0):
    """An aware Asia/Shanghai datetime, to keep expectations literal."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SH)


def travel(moment: datetime):
    """Freeze the clock at ``moment`` (services read ``timezone.now()``)."""
    return time_machine.travel(moment, tick=False)


def create_ticket(
    *, reported_at: datetime, actor: User | None = None, now: datetime | None = None, **fields
) -> Ticket:
    """``ticket_create`` at ``now`` (default: the report time); incidents default to grade 3."""
    actor = actor or factories.desk_agent()
    fields.setdefault("title", "网办大厅无法登录")
    fields.setdefault("channel", "phone")
    if fields.setdefault("kind", Kind.INCIDENT) == Kind.INCIDENT:
        fields.setdefault("grade", 3)
    with travel(now or reported_at):
        return services.ticket_create(
            actor=actor, data=TicketInput(reported_at=reported_at, **fields)
        )


def assign(ticket: Ticket, vendor: Vendor, *, when: datetime, actor=None, engineer=None):
    with travel(when):
        return services.ticket_assign(
            actor=actor or factories.desk_agent(),
            ticket_id=ticket.pk,
            vendor=vendor,
            engineer=engineer,
        )


def accept(ticket: Ticket, engineer: User, *, when: datetime) -> Ticket:
    with travel(when):
        return services.ticket_accept(actor=engineer, ticket_id=ticket.pk)


def pend(ticket: Ticket, engineer: User, *, when: datetime) -> Ticket:
    with travel(when):
        return services.ticket_pend(actor=engineer, ticket_id=ticket.pk, reason="等待用户提供日志")


def resume(ticket: Ticket, engineer: User, *, when: datetime) -> Ticket:
    with travel(when):
        return services.ticket_resume(actor=engineer, ticket_id=ticket.pk)


def resolve(ticket: Ticket, actor: User, *, when: datetime) -> Ticket:
    with travel(when):
        return services.ticket_resolve(actor=actor, ticket_id=ticket.pk, resolution="已修复")


def regrade(ticket: Ticket, grade: int, *, when: datetime, actor=None) -> Ticket:
    with travel(when):
        return services.ticket_regrade(
            actor=actor or factories.desk_agent(), ticket_id=ticket.pk, grade=grade, reason="复核"
        )


def accepted_incident(*, reported_at: datetime, accepted_at: datetime, grade: int = 3, **fields):
    """An incident dispatched at the report time and accepted at ``accepted_at``."""
    vendor = factories.VendorFactory()
    engineer = factories.vendor_engineer(vendor)
    ticket = create_ticket(reported_at=reported_at, grade=grade, **fields)
    assign(ticket, vendor, when=reported_at, engineer=engineer)
    return accept(ticket, engineer, when=accepted_at), engineer


def system_policy(*, system, grade: int, calendar_code: str, response: int, resolution: int):
    policy = SlaPolicy.objects.create(
        kind=Kind.INCIDENT,
        grade=grade,
        system=system,
        calendar=Calendar.objects.get(code=calendar_code),
        response_minutes=response,
        resolution_minutes=resolution,
    )
    sla_config_changed()
    return policy
