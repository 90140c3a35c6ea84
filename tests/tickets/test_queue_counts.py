"""The desk home's queue counts: right numbers, and answered from the open-tickets index."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests import factories
from tests.tickets.factories import assigned_ticket, make_ticket
from tickets import selectors
from tickets.models import OPEN_STATUSES

pytestmark = pytest.mark.django_db


def test_queue_counts_count_the_open_tickets_by_queue():
    desk = factories.desk_agent()
    make_ticket(actor=desk)
    make_ticket(actor=desk)
    assigned_ticket()

    counts = selectors.queue_counts(desk, now=timezone.now())

    assert counts.open == 3
    assert counts.unassigned == 2
    assert counts.pending == 0


@pytest.mark.postgres
def test_queue_counts_are_answered_from_the_open_tickets_index_alone():
    desk = factories.desk_agent()
    make_ticket(actor=desk)
    with CaptureQueriesContext(connection) as captured:
        selectors.queue_counts(desk, now=timezone.now())
    (query,) = captured

    with connection.cursor() as cursor:
        # A few rows would be read from the table anyway: make the planner show its index plan.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + query["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "Index Only Scan using ticket_open_queues" in plan


def test_the_index_covers_exactly_the_open_statuses():
    from importlib import import_module

    migration = import_module("tickets.migrations.0003_open_queues_index").Migration
    sql = migration.operations[0].sql

    assert "WHERE status IN (" + ", ".join(f"'{status}'" for status in OPEN_STATUSES) + ")" in sql
