"""The hand-built ticket representation of the API equals DRF's field-by-field output."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers
from rest_framework.test import APIClient, APIRequestFactory

from tests import factories
from tests.tickets.factories import (
    accepted_ticket,
    assigned_ticket,
    make_ticket,
    resolved_ticket,
)
from tickets import selectors, services
from tickets.api.serializers import TicketDetailSerializer, TicketSerializer
from tickets.models import Category, Kind, Ticket

pytestmark = pytest.mark.django_db


def _new_with_everything(desk) -> Ticket:
    requester = factories.requester(full_name="王小明")
    return make_ticket(
        actor=desk,
        category=Category.objects.create(code="network", name="网络"),
        tags=["机房", "核心"],
        requester=requester,
        requester_phone="020-12345678",
        description="第一行\n第二行 <b>",
        reported_at=timezone.now() - timedelta(hours=2),
    )


def _assigned_to_an_engineer(desk) -> Ticket:
    vendor = factories.VendorFactory()
    engineer = factories.vendor_engineer(vendor, full_name="李工")
    ticket = assigned_ticket(vendor=vendor, actor=desk)
    return services.ticket_assign(
        actor=desk, ticket_id=ticket.pk, vendor=vendor, engineer=engineer, note="现场处理"
    )


def _pending(desk) -> Ticket:
    vendor = factories.VendorFactory()
    engineer = factories.vendor_engineer(vendor)
    ticket = accepted_ticket(vendor=vendor, engineer=engineer)
    return services.ticket_pend(actor=engineer, ticket_id=ticket.pk, reason="等待备件")


def _reopened(desk) -> Ticket:
    ticket = resolved_ticket()
    return services.ticket_reopen(actor=desk, ticket_id=ticket.pk, reason="复发")


def _closed(desk) -> Ticket:
    ticket = resolved_ticket()
    return services.ticket_close(actor=desk, ticket_id=ticket.pk)


def _resolved_at_first_line(desk) -> Ticket:
    ticket = make_ticket(actor=desk)
    return services.ticket_resolve(actor=desk, ticket_id=ticket.pk, resolution="指导用户重启")


def _task(desk) -> Ticket:
    return make_ticket(actor=desk, kind=Kind.TASK, resolution_due=timezone.now() + timedelta(7))


def _cancelled(desk) -> Ticket:
    ticket = make_ticket(actor=desk, kind=Kind.REQUEST)
    return services.ticket_cancel(actor=desk, ticket_id=ticket.pk, reason="重复报障")


STATES: list[Callable] = [
    _new_with_everything,
    _assigned_to_an_engineer,
    _pending,
    _reopened,
    _closed,
    _resolved_at_first_line,
    _task,
    _cancelled,
]


def _drf_fields(serializer: serializers.Serializer, ticket: Ticket) -> dict:
    """What DRF itself renders from the serializer's declared fields."""
    return dict(serializers.ModelSerializer.to_representation(serializer, ticket))


@pytest.mark.parametrize("build", STATES, ids=lambda build: build.__name__.strip("_"))
def test_detail_representation_equals_drf_field_output(build):
    # Given a ticket in some state, read as the API reads it
    desk = factories.desk_agent()
    ticket = selectors.ticket_detail(desk, build(desk).pk)
    request = APIRequestFactory().get("/")
    request.user = desk

    # When it is represented by the fast path and by DRF's fields
    serializer = TicketDetailSerializer(ticket, context={"request": request})

    # Then both agree, key for key and in the same order
    fast = dict(serializer.data)
    assert list(fast) == list(TicketDetailSerializer.Meta.fields)
    assert fast == _drf_fields(serializer, ticket)


def test_list_representation_equals_drf_field_output():
    desk = factories.desk_agent()
    built = [build(desk).pk for build in STATES]
    rows = selectors.ticket_list(desk).prefetch_related("tags").filter(pk__in=built)

    for ticket in rows:
        serializer = TicketSerializer(ticket)
        assert dict(serializer.data) == _drf_fields(serializer, ticket)


@pytest.mark.parametrize("tags", [[], ["机房", "核心"]])
def test_creation_answers_what_reading_the_ticket_back_shows(tags):
    # Given a desk agent of the API
    desk = factories.desk_agent()
    system = factories.BusinessSystemFactory(code="oa")
    client = APIClient()
    client.force_login(desk)

    # When a ticket is created (the response is built from the saved instance)
    created = client.post(
        reverse("api:ticket-list"),
        {"title": "接口超时", "grade": 2, "system": system.code, "tags": tags},
        format="json",
    )

    # Then it is exactly what a read of the same ticket answers
    assert created.status_code == 201
    read = client.get(created["Location"])
    assert created.json() == read.json()
    assert created["ETag"] == read["ETag"]
    assert sorted(created.json()["tags"]) == sorted(tags)
