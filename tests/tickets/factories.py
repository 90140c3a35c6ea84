"""Ticket helpers for tests: everything goes through the services, as in production."""

from __future__ import annotations

from tests import factories
from tickets import services
from tickets.models import Kind, Ticket
from tickets.services import TicketInput


def make_ticket(*, actor=None, **fields) -> Ticket:
    """Create a ticket via ``ticket_create``; incidents default to grade 3 on a fresh system."""
    actor = actor or factories.desk_agent()
    fields.setdefault("title", "系统登录缓慢")
    fields.setdefault("channel", "phone")
    kind = fields.setdefault("kind", Kind.INCIDENT)
    if kind == Kind.INCIDENT:
        fields.setdefault("grade", 3)
    if "system" not in fields:
        fields["system"] = factories.BusinessSystemFactory()
    return services.ticket_create(actor=actor, data=TicketInput(**fields))


def assigned_ticket(*, vendor=None, actor=None, **fields) -> Ticket:
    actor = actor or factories.desk_agent()
    vendor = vendor or factories.VendorFactory()
    ticket = make_ticket(actor=actor, **fields)
    return services.ticket_assign(actor=actor, ticket_id=ticket.pk, vendor=vendor)


def accepted_ticket(*, vendor=None, engineer=None, **fields) -> Ticket:
    vendor = vendor or factories.VendorFactory()
    engineer = engineer or factories.vendor_engineer(vendor)
    ticket = assigned_ticket(vendor=vendor, **fields)
    return services.ticket_accept(actor=engineer, ticket_id=ticket.pk)


def in_progress_ticket(*, vendor=None, engineer=None, **fields) -> Ticket:
    vendor = vendor or factories.VendorFactory()
    engineer = engineer or factories.vendor_engineer(vendor)
    ticket = accepted_ticket(vendor=vendor, engineer=engineer, **fields)
    return services.ticket_start(actor=engineer, ticket_id=ticket.pk)


def resolved_ticket(*, vendor=None, engineer=None, **fields) -> Ticket:
    vendor = vendor or factories.VendorFactory()
    engineer = engineer or factories.vendor_engineer(vendor)
    ticket = in_progress_ticket(vendor=vendor, engineer=engineer, **fields)
    return services.ticket_resolve(actor=engineer, ticket_id=ticket.pk, resolution="已重启服务")
