"""The list page's filter bar, bulk bar and links: plain-data rendering and cached option lists."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.template import RequestContext
from django.template.defaulttags import querystring
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories
from tests.tickets.factories import make_ticket
from tickets import selectors
from tickets.models import Category, Ticket
from tickets.templatetags.ticket_tags import _Query

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_list_options():
    # The option lists live in Django's cache, which outlives each test's transaction.
    cache.delete(selectors.LIST_OPTIONS_CACHE_KEY)
    yield
    cache.delete(selectors.LIST_OPTIONS_CACHE_KEY)


@pytest.fixture
def desk(client):
    user = factories.desk_agent()
    client.force_login(user)
    return user


def _list(client, **params) -> str:
    response = client.get(reverse("tickets:list"), params)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    ("query", "changes"),
    [
        ("", {"after": None, "before": None}),
        ("after=abc", {"after": None, "before": None}),
        ("queue=mine", {"queue": None, "after": None, "before": None}),
        ("status=new&status=assigned&after=x&search=社保 缴费&q=a%26b", {"queue": "mine"}),
        ("sort=grade&queue=pending&dir=asc", {"sort": "number", "dir": "desc", "after": None}),
        ("queue=mine&queue=pending&x=1", {"queue": "grade_1", "before": None}),
        ("a=1&b=2&a=3", {"a": "z", "c": 4}),
        ("before=Wzk5LDk5XQ", {"after": "WzEsMV0", "before": None}),
    ],
)
def test_query_links_equal_djangos_querystring(query, changes):
    request = RequestFactory().get("/tickets/?" + query if query else "/tickets/")

    expected = querystring(RequestContext(request), **changes)

    assert _Query(request.GET).link(**changes) == expected


def test_option_lists_are_read_once_then_cached():
    factories.BusinessSystemFactory(code="oa", name="办公系统")
    with CaptureQueriesContext(connection) as first:
        options = selectors.list_options()
    with CaptureQueriesContext(connection) as second:
        assert selectors.list_options() == options

    assert len(first) == 4
    assert len(second) == 0
    assert ("oa", "办公系统") in options.systems


def test_warm_list_page_reads_no_option_list_from_the_database(client, desk):
    make_ticket(actor=desk)
    _list(client)

    with CaptureQueriesContext(connection) as captured:
        _list(client, status="new")

    tables = " ".join(query["sql"] for query in captured)
    for table in ("directory_businesssystem", "directory_vendor", "tickets_category"):
        assert f'FROM "{table}"' not in tables


def test_filter_bar_lists_every_system_vendor_and_category_and_marks_the_chosen(client, desk):
    factories.BusinessSystemFactory(code="oa", name="办公系统")
    factories.VendorFactory(code="acme", name="Acme <运维>", is_active=False)
    Category.objects.create(code="network", name="网络")

    html = _list(client, vendor="acme", category="network", status=["new", "assigned"])

    assert '<option value="oa">办公系统</option>' in html
    assert '<option value="acme" selected>Acme &lt;运维&gt;</option>' in html
    assert '<option value="network" selected>网络</option>' in html
    status = re.search(
        r'<details class="filter-dropdown" id="filter-status">.*?</details>', html, re.S
    )
    assert '<span class="badge text-bg-primary">2</span>' in status.group(0)
    assert 'value="new" id="id_status_0" checked>' in status.group(0)
    assert 'value="closed" id="id_status_6">' in status.group(0)


def test_an_unknown_choice_marks_its_select_invalid(client, desk):
    html = _list(client, system="no-such-system")

    assert 'id="id_system" class="form-select form-select-sm is-invalid"' in html


def test_bulk_bar_offers_active_vendors_and_returns_to_this_page(client, desk):
    factories.VendorFactory(code="b-active", name="乙")
    factories.VendorFactory(code="a-active", name="甲")
    factories.VendorFactory(code="c-gone", name="丙", is_active=False)

    html = _list(client, status="new", grade="2")

    bar = re.search(r'<form [^>]*id="bulk-form".*?</form>', html, re.S).group(0)
    assert '<input type="hidden" name="next" value="/tickets/?status=new&amp;grade=2"' in bar
    assert re.findall(r'<option value="\d+">(.)</option>', bar) == ["甲", "乙"]
    assert '<option value="dispatch">派单给服务商</option>' in bar


def test_only_the_desk_gets_the_bulk_bar(client):
    client.force_login(factories.leader())

    assert 'id="bulk-form"' not in _list(client)


def test_queue_tabs_keep_the_filters_but_not_the_page(client, desk):
    html = _list(client, queue="mine", status="new", after="WzEsMV0")

    assert 'class="nav-link py-1 active" href="?queue=mine&amp;status=new">' in html
    assert 'class="nav-link py-1" href="?status=new">全部</a>' in html
    assert 'href="?queue=pending&amp;status=new">' in html


# The controls (heading, queue tabs, filter bar) are cached per list: see _controls_key.


def test_paging_through_a_list_renders_its_controls_once(client, desk):
    make_ticket(actor=desk)
    _list(client, status="new")
    cached = set(cache._cache)  # the test cache is local memory
    assert any("ticket-list-controls" in key for key in cached)

    _list(client, status="new", after="WzEsMV0")

    assert set(cache._cache) == cached


def test_a_new_system_reaches_the_cached_filter_bar_when_the_option_lists_are_reread(client, desk):
    assert '<option value="oa">' not in _list(client)
    factories.BusinessSystemFactory(code="oa", name="办公系统")

    cache.delete(selectors.LIST_OPTIONS_CACHE_KEY)  # what their expiry does

    assert '<option value="oa">办公系统</option>' in _list(client)


def test_cached_controls_follow_the_language(client, desk):
    assert "导出 Excel" in _list(client)

    client.cookies["django_language"] = "en"

    html = _list(client)
    assert "导出 Excel" not in html
    assert "Export to Excel" in html


def test_cached_controls_follow_the_role(client, desk):
    assert 'id="log-call-button"' in _list(client, status="new")

    client.force_login(factories.leader())

    html = _list(client, status="new")
    assert 'id="log-call-button"' not in html
    assert 'class="nav nav-pills nav-queues' in html  # oversight keeps the queues
    client.force_login(factories.vendor_engineer(factories.VendorFactory()))
    html = _list(client, status="new")
    assert 'class="nav nav-pills nav-queues' not in html


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        ({"full_name": "王工", "first_name": "A", "last_name": "B"}, "王工"),
        ({"full_name": "", "first_name": "Ada", "last_name": "Li"}, "Ada Li"),
        ({"full_name": "", "first_name": "", "last_name": ""}, "eng-login"),
    ],
)
def test_rows_name_the_engineer_as_everywhere_else(client, desk, names, shown):
    vendor = factories.VendorFactory()
    engineer = factories.vendor_engineer(vendor, username="eng-login", **names)
    ticket = make_ticket(actor=desk)
    ticket.vendor, ticket.engineer = vendor, engineer
    ticket.save(update_fields=["vendor", "engineer"])

    row = re.search(rf'<tr data-ticket="{ticket.pk}">.*?</tr>', _list(client), re.S).group(0)

    assert f"<td>{engineer.display_name}</td>" in row
    assert engineer.display_name == shown


def test_each_filterset_gets_its_own_filters_bound_to_itself():
    from django.http import QueryDict

    from tickets.filters import TicketFilter

    first = TicketFilter(QueryDict("search=甲"), queryset=Ticket.objects.all())
    second = TicketFilter(QueryDict("search=乙"), queryset=Ticket.objects.all())

    assert first.filters["search"] is not second.filters["search"]
    assert first.filters["search"].parent is first
    assert first.filters["search"].filter.f is first.filters["search"]  # the method proxy too
    assert second.filters["search"].filter.f is second.filters["search"]
    assert getattr(TicketFilter.base_filters["search"], "parent", None) is None
    assert "甲" in str(first.qs.query) and "乙" in str(second.qs.query)


def test_each_filter_form_gets_its_own_fields():
    from django.http import QueryDict

    from tickets.filters import TicketFilter

    first = TicketFilter(QueryDict("grade=9"), queryset=Ticket.objects.all()).form
    second = TicketFilter(QueryDict("grade=1"), queryset=Ticket.objects.all()).form

    assert first.fields["grade"] is not second.fields["grade"]
    assert not first.is_valid() and "grade" in first.errors
    assert second.is_valid()


def test_a_rows_sla_badge_names_its_deadline_in_local_time(client, desk):
    from django.utils import timezone

    ticket = make_ticket(actor=desk)
    row = re.search(rf'<tr data-ticket="{ticket.pk}">.*?</tr>', _list(client), re.S).group(0)

    label, shown = re.search(r'sla-badge[^>]*title="(\S+) ([\d-]+ [\d:]+)"', row).groups()
    due = ticket.response_due if label == "响应时限" else ticket.resolution_due
    assert label in ("响应时限", "解决时限")
    assert shown == f"{timezone.localtime(due):%Y-%m-%d %H:%M}"


def test_the_page_is_cut_from_the_ticket_table_before_its_rows_are_joined(client, desk):
    # A broad search matches thousands of tickets: joining each to its system, vendor and
    # engineer before keeping 25 cost a quarter of the page's query on 1M tickets.
    make_ticket(actor=desk, title="社保缴费页面打不开")

    with CaptureQueriesContext(connection) as captured:
        _list(client, search="社保", sort="resolution_due")

    # A nullable sort reads two ranges (deadlines, then none): each is cut before the joins.
    page_queries = [q["sql"] for q in captured if 'FROM "tickets_ticket" LEFT' in q["sql"]]
    assert len(page_queries) == 2
    for page_query in page_queries:
        window = re.search(r"IN \((SELECT .*? LIMIT \d+)\)", page_query).group(1)
        assert "JOIN" not in window
        assert "search_text" in window
