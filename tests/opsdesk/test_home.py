"""Each role's home page renders in Chinese by default and pulls nothing from outside."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests import factories
from tests.tickets.factories import assigned_ticket, make_ticket
from tickets import services
from tickets.models import Kind

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture
def demo():
    call_command("seed_demo", tickets=0)


@pytest.mark.parametrize(
    ("username", "home_kind", "expected"),
    [
        ("desk", "desk", "服务台工作台"),
        ("supervisor", "desk", "服务台工作台"),
        ("leader", "oversight", "监督总览"),
        ("vendor-a-engineer", "vendor", "甲服务商"),
        ("vendor-b-manager", "vendor", "乙服务商"),
        ("requester", "requester", "我的报障"),
        ("admin", "desk", "管理后台"),
    ],
)
def test_each_role_lands_on_its_home_page(client, demo, username, home_kind, expected):
    client.login(username=username, password="opsdesk-demo")
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-home="{home_kind}"' in html
    assert expected in html
    assert not EXTERNAL.search(html), EXTERNAL.search(html)


def test_anonymous_user_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_page_has_no_external_assets(client):
    html = client.get("/login/").content.decode()
    assert not EXTERNAL.search(html)
    assert "登录" in html


def test_language_switch_to_english(client, demo):
    client.login(username="desk", password="opsdesk-demo")
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = client.get("/").content.decode()
    assert "Service desk home" in html
    assert 'lang="en"' in html


def test_static_assets_are_served_by_the_app(client):
    from django.contrib.staticfiles import finders

    assert finders.find("bootstrap/css/bootstrap.min.css")
    assert finders.find("opsdesk/app.css")


# ---------------------------------------------------------------------------------------------
# Home page content per role (factories, not the demo set)


def _numbers(html: str) -> list[str]:
    return re.findall(r'class="ticket-number">([A-Z]{3}-\d{4}-\d{6})<', html)


def _queries(client, url="/") -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_desk_home_shows_queue_counts_log_call_button_and_recent(client):
    desk = factories.desk_agent()
    vendor = factories.VendorFactory()
    new = make_ticket(actor=desk, grade=1)
    assigned_ticket(vendor=vendor, grade=2)
    client.force_login(desk)

    html = client.get("/").content.decode()

    assert 'id="log-call-button"' in html and "/tickets/new/call/" in html
    assert re.search(
        r'data-queue="unassigned">\s*<div class="card-body py-2"><div class="queue-count">1<', html
    )
    assert re.search(
        r'data-queue="grade_1">\s*<div class="card-body py-2"><div class="queue-count">1<', html
    )
    assert re.search(
        r'data-queue="open">\s*<div class="card-body py-2"><div class="queue-count">2<', html
    )
    assert 'href="/tickets/?queue=breaching_soon"' in html
    assert new.number in _numbers(html)


def test_vendor_home_lists_its_open_tickets_nearest_deadline_first(client):
    vendor, other = factories.VendorFactory(name="甲服务商"), factories.VendorFactory()
    engineer = factories.vendor_engineer(vendor)
    slow = assigned_ticket(vendor=vendor, grade=3)
    urgent = assigned_ticket(vendor=vendor, grade=1)
    foreign = assigned_ticket(vendor=other, grade=1)
    done = assigned_ticket(vendor=vendor, grade=1)
    services.ticket_resolve(actor=factories.desk_agent(), ticket_id=done.pk, resolution="已处理")
    client.force_login(engineer)

    html = client.get("/").content.decode()

    assert _numbers(html) == [urgent.number, slow.number]
    assert foreign.number not in html
    assert "甲服务商" in html


def test_requester_home_lists_their_tickets_with_a_new_request_button(client):
    user = factories.requester()
    mine = make_ticket(actor=user, kind=Kind.REQUEST)
    other = make_ticket(kind=Kind.REQUEST)
    client.force_login(user)

    html = client.get("/").content.decode()

    assert _numbers(html) == [mine.number]
    assert other.number not in html
    assert 'id="new-request-button"' in html and 'href="/tickets/new/"' in html


def test_oversight_home_is_read_only_counts_and_links(client):
    make_ticket()
    client.force_login(factories.leader())

    html = client.get("/").content.decode()

    assert 'data-home="oversight"' in html
    assert 'data-queue="open"' in html and "/tickets/?queue=breaching_soon" in html
    assert "/tickets/new/call/" not in html
    assert 'method="post" action="/tickets/' not in html


@pytest.mark.parametrize(
    ("make_user", "expected", "absent"),
    [
        (factories.desk_agent, ["工作台", "工单列表", "登记来电"], ["提交请求"]),
        (lambda: factories.vendor_engineer(factories.VendorFactory()), ["我的工单"], ["登记来电"]),
        (factories.requester, ["我的报障", "提交请求"], ["登记来电", "工单列表"]),
        (factories.leader, ["工单列表"], ["登记来电", "我的工单"]),
    ],
)
def test_navigation_per_role(client, make_user, expected, absent):
    client.force_login(make_user())

    html = client.get("/").content.decode()
    nav = html[html.index('<ul class="navbar-nav') : html.index("</ul>")]

    for label in expected:
        assert label in nav
    for label in absent:
        assert label not in nav


def test_supervisor_sees_a_missing_holiday_calendar_warning(client):
    supervisor = factories.desk_supervisor()

    with time_machine.travel(datetime(2045, 6, 1, 10, 0, tzinfo=SHANGHAI), tick=False):
        client.force_login(supervisor)  # a session from "today" would have expired by then
        html = client.get("/").content.decode()

    assert 'id="calendar-warning"' in html and "2045" in html


def _grow(n: int, vendor, requester) -> None:
    desk = factories.desk_agent()
    system = factories.BusinessSystemFactory()
    for _ in range(n):
        assigned_ticket(actor=desk, vendor=vendor, system=system)
        make_ticket(actor=requester, system=system, kind=Kind.REQUEST)


@pytest.mark.parametrize("role", ["desk", "vendor", "requester", "leader"])
def test_home_query_count_does_not_grow_with_tickets(client, role):
    vendor = factories.VendorFactory()
    requester = factories.requester()
    users = {
        "desk": factories.desk_agent(),
        "vendor": factories.vendor_engineer(vendor),
        "requester": requester,
        "leader": factories.leader(),
    }
    client.force_login(users[role])
    _grow(5, vendor, requester)
    client.get("/")  # warm per-process caches (SLA configuration)
    few = _queries(client)
    _grow(45, vendor, requester)

    # The vendor's list is sorted by a nullable deadline: a short one also reads the (empty)
    # range of tickets without one, a full page does not. Never more queries with more rows.
    many = _queries(client)
    assert many == few if role != "vendor" else many in (few, few - 1)


def test_vendor_home_pages_with_keyset_cursors(client):
    vendor = factories.VendorFactory()
    system = factories.BusinessSystemFactory()
    base = timezone.now() - timedelta(hours=1)
    for i in range(30):
        assigned_ticket(vendor=vendor, system=system, reported_at=base + timedelta(minutes=i))
    client.force_login(factories.vendor_engineer(vendor))

    first = client.get("/")
    second = client.get("/", {"after": first.context["page"].next_cursor})

    one, two = _numbers(first.content.decode()), _numbers(second.content.decode())
    assert (len(one), len(two)) == (25, 5)
    assert not set(one) & set(two)
