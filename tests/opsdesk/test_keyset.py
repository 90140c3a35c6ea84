"""Keyset pagination walks every row exactly once, forwards and backwards, NULLs last."""

from datetime import timedelta

import pytest
from django.utils import timezone

from opsdesk.errors import ValidationFailed
from opsdesk.keyset import decode_cursor, paginate
from tests.tickets.factories import make_ticket
from tickets.models import Kind, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def tickets():
    now = timezone.now()
    rows = []
    for index in range(11):
        # Duplicate report times and some NULL grades exercise the tie-breaker and NULL paths.
        kind = Kind.REQUEST if index % 3 == 0 else Kind.INCIDENT
        rows.append(
            make_ticket(
                kind=kind,
                grade=None if kind == Kind.REQUEST else 1 + index % 3,
                reported_at=now - timedelta(hours=index // 2),
            )
        )
    return rows


def walk_forward(field, descending, page_size=3):
    seen, cursor, pages = [], None, 0
    while True:
        page = paginate(
            Ticket.objects.all(),
            field=field,
            descending=descending,
            page_size=page_size,
            after=cursor,
        )
        seen.extend(ticket.pk for ticket in page.items)
        pages += 1
        if not page.next_cursor:
            return seen
        cursor = page.next_cursor
        assert pages < 20


def expected_order(field, descending):
    rows = list(Ticket.objects.all())

    def key(ticket):
        value = getattr(ticket, field)
        missing = value is None
        return (missing, value if not missing else 0, ticket.pk)

    present = sorted(
        (t for t in rows if getattr(t, field) is not None), key=key, reverse=descending
    )
    absent = sorted(
        (t for t in rows if getattr(t, field) is None), key=lambda t: t.pk, reverse=descending
    )
    return [t.pk for t in present + absent]


@pytest.mark.parametrize(
    ("field", "descending"),
    [("id", True), ("id", False), ("reported_at", True), ("reported_at", False), ("grade", False),
     ("grade", True)],
)  # fmt: skip
def test_forward_walk_visits_every_row_once_in_order(tickets, field, descending):
    assert walk_forward(field, descending) == expected_order(field, descending)


@pytest.mark.parametrize(("field", "descending"), [("reported_at", True), ("grade", False)])
def test_previous_page_is_the_page_before(tickets, field, descending):
    first = paginate(Ticket.objects.all(), field=field, descending=descending, page_size=4)
    second = paginate(
        Ticket.objects.all(),
        field=field,
        descending=descending,
        page_size=4,
        after=first.next_cursor,
    )
    back = paginate(
        Ticket.objects.all(),
        field=field,
        descending=descending,
        page_size=4,
        before=second.previous_cursor,
    )
    assert [t.pk for t in back.items] == [t.pk for t in first.items]
    assert first.previous_cursor is None
    assert back.next_cursor is not None


def test_garbage_cursor_is_a_validation_error():
    with pytest.raises(ValidationFailed):
        decode_cursor("not-a-cursor")


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("at_null", [False, True])
def test_a_page_of_a_nullable_column_reads_index_ranges_not_or_is_null(
    tickets, descending, at_null
):
    # given a cursor in the graded rows or in the NULL (ungraded) ones
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from opsdesk.keyset import encode_cursor

    row = next(t for t in tickets if (t.grade is None) == at_null)
    cursor = encode_cursor(row.grade, row.pk)

    with CaptureQueriesContext(connection) as captured:
        paginate(
            Ticket.objects.all(), field="grade", descending=descending, page_size=3, after=cursor
        )

    # then no statement combines the two ranges with OR (no index serves that)
    assert captured
    assert all(" OR " not in query["sql"] for query in captured)
