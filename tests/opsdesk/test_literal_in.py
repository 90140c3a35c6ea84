"""``field__literal_in``: choices written into the SQL, so each set of values is planned alone."""

from __future__ import annotations

import pytest

from tests.tickets.factories import assigned_ticket, make_ticket
from tickets.models import Status, Ticket

pytestmark = pytest.mark.django_db


def test_the_values_are_in_the_sql_not_in_its_parameters():
    sql, params = Ticket.objects.filter(
        status__literal_in=[Status.NEW, Status.PENDING]
    ).query.sql_with_params()

    assert "IN ('new', 'pending')" in sql
    assert "new" not in params and "pending" not in params


def test_it_filters_like_in():
    new = make_ticket()
    assigned = assigned_ticket()

    assert list(Ticket.objects.filter(status__literal_in=[Status.NEW])) == [new]
    assert set(Ticket.objects.filter(grade__literal_in=[3])) == {new, assigned}
    assert not Ticket.objects.filter(status__literal_in=[]).exists()


@pytest.mark.parametrize("value", ["new' OR '1'='1", "no-such-status"])
def test_anything_but_the_fields_choices_is_refused(value):
    with pytest.raises(ValueError, match="choices"):
        list(Ticket.objects.filter(status__literal_in=[value]))


def test_the_list_filters_and_queues_use_it(client):
    from tests import factories

    client.force_login(factories.desk_agent())
    make_ticket()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(
            "/tickets/", {"queue": "unassigned", "status": ["new", "assigned"], "grade": "3"}
        )

    page = next(
        q["sql"] for q in captured if "ORDER BY" in q["sql"] and "tickets_ticket" in q["sql"]
    )
    assert "IN ('new')" in page and "IN ('new', 'assigned')" in page and "IN (3)" in page
