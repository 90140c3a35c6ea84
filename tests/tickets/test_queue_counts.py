"""The desk home's queue counts: right numbers, and answered from the open-tickets index."""

from __future__ import annotations

import re

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
def test_the_open_tickets_index_holds_every_column_the_queue_counts_read():
    # so that PostgreSQL can answer them from the index alone (an index-only scan)
    desk = factories.desk_agent()
    with CaptureQueriesContext(connection) as captured:
        selectors.queue_counts(desk, now=timezone.now())
    (counts,) = [query["sql"] for query in captured if "COUNT(" in query["sql"]]
    read = set(re.findall(r'"tickets_ticket"\."(\w+)"', counts))

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname FROM pg_index i"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indexrelid = 'ticket_open_queues'::regclass"
        )
        indexed = {name for (name,) in cursor.fetchall()}

    assert read and read <= indexed


def test_the_index_covers_exactly_the_open_statuses():
    from importlib import import_module

    migration = import_module("tickets.migrations.0003_open_queues_index").Migration
    sql = migration.operations[0].sql

    assert "WHERE status IN (" + ", ".join(f"'{status}'" for status in OPEN_STATUSES) + ")" in sql


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        # A few rows would be read from the table anyway, and the statistics of a test database
        # depend on what ran before: make the planner show an ordered index path if one exists
        # (with sorts off it still sorts when no index yields the order).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.postgres
def test_the_vendor_home_reads_its_page_in_deadline_order_from_an_index(client):
    vendor = factories.VendorFactory()
    engineer = factories.vendor_engineer(vendor)
    client.force_login(engineer)
    client.get("/")

    with CaptureQueriesContext(connection) as captured:
        assert client.get("/").status_code == 200
    # the range of tickets with a deadline (those without one are read by id, after it)
    (page_query,) = [q["sql"] for q in captured if '"resolution_due" IS NOT NULL' in q["sql"]]

    # The page's 26 rows are sorted again after the join (tickets.views.listing.rows_of);
    # the window under the Limit must come from the index in order.
    window = _plan(page_query).split("Limit", 1)[1]
    assert "ticket_vendor_open_due" in window
    assert "Sort" not in window


def test_each_queue_lists_exactly_the_tickets_its_count_counts(client):
    # The desk home shows a count per queue and links to the list filtered by that queue: the
    # two are written separately (one aggregate, one filter each) and must never disagree.
    from tests.tickets.factories import in_progress_ticket, resolved_ticket
    from tickets import services

    desk = factories.desk_agent()
    vendor = factories.VendorFactory()
    engineer = factories.vendor_engineer(vendor)
    make_ticket(actor=desk, grade=1)  # new: unassigned, mine (desk owner), grade 1
    make_ticket(actor=factories.desk_agent(), grade=2)  # new, someone else's
    assigned_ticket(actor=desk, vendor=vendor, grade=3)
    waiting = in_progress_ticket(vendor=vendor, engineer=engineer, grade=2)
    services.ticket_pend(actor=engineer, ticket_id=waiting.pk, reason="等待用户回复")
    resolved_ticket(vendor=vendor, engineer=engineer, grade=1)  # not open: in no queue
    make_ticket(actor=desk, kind="request", grade=None)
    client.force_login(desk)

    counts = selectors.queue_counts(desk, now=timezone.now())

    for queue in selectors.QUEUES:
        html = client.get("/tickets/", {"queue": queue, "size": 100}).content.decode()
        listed = len(re.findall(r'<tr data-ticket="\d+">', html))
        assert listed == getattr(counts, queue), queue
    assert (counts.unassigned, counts.mine, counts.pending) == (3, 3, 1)
    assert (counts.grade_1, counts.grade_2, counts.grade_3) == (1, 2, 1)
