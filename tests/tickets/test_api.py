"""The ticket REST API: lifecycle, contract, errors, concurrency, roles, isolation, query counts."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests import factories
from tests.tickets.factories import (
    accepted_ticket,
    assigned_ticket,
    in_progress_ticket,
    make_ticket,
    resolved_ticket,
)
from tickets import services
from tickets.models import Category, EventAction, Status, Ticket

pytestmark = pytest.mark.django_db

LIST = "api:ticket-list"
OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+08:00$")


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def url(name: str, ticket_or_pk=None) -> str:
    if ticket_or_pk is None:
        return reverse(name)
    return reverse(name, args=[getattr(ticket_or_pk, "pk", ticket_or_pk)])


def detail(ticket) -> str:
    return url("api:ticket-detail", ticket)


def do(ticket, action: str) -> str:
    return url(f"api:ticket-{action}", ticket)


@pytest.fixture
def desk():
    return factories.desk_agent(username="desk")


@pytest.fixture
def vendor():
    return factories.VendorFactory(code="acme", name="Acme 运维")


@pytest.fixture
def other_vendor():
    return factories.VendorFactory(code="globex", name="Globex")


@pytest.fixture
def engineer(vendor):
    return factories.vendor_engineer(vendor, username="eng-acme")


@pytest.fixture
def other_engineer(other_vendor):
    return factories.vendor_engineer(other_vendor, username="eng-globex")


@pytest.fixture
def system(vendor):
    return factories.BusinessSystemFactory(code="oa", name="办公系统", vendor=vendor)


# ---------------------------------------------------------------------------------------------
# Creating and reading


def test_desk_logs_a_ticket_with_api_defaults(desk, system):
    # given a desk account (monitoring clients use one)
    # when it posts the minimum an incident needs
    response = api(desk).post(
        url(LIST), {"title": "OA 无法登录", "grade": 2, "system": "oa"}, format="json"
    )

    # then the ticket exists as an incident from the api channel, referenced by codes
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "incident"
    assert body["channel"] == "api"
    assert body["system"] == "oa"
    assert body["status"] == "new"
    assert body["number"].startswith("INC-")
    assert body["response_due"] and body["resolution_due"]
    assert response["ETag"] == f'W/"{body["version"]}"'
    assert response["Location"].endswith(detail(body["id"]))
    assert Ticket.objects.get(pk=body["id"]).channel == "api"


def test_ticket_representation_has_the_contract_fields_and_local_offsets(desk, system, vendor):
    # given a ticket with a category and tags, dispatched to a vendor
    Category.objects.create(code="network", name="网络")
    created = api(desk).post(
        url(LIST),
        {
            "title": "网络中断",
            "grade": 1,
            "system": "oa",
            "category": "network",
            "tags": ["机房", "核心"],
            "requester_name": "张三",
            "requester_phone": "123",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    ticket_id = created.json()["id"]
    api(desk).post(do(ticket_id, "assign"), {"vendor": "acme"}, format="json")

    # when the detail is read
    body = api(desk).get(detail(ticket_id)).json()

    # then every field of the contract is there, with codes and +08:00 timestamps
    expected = {
        "id",
        "number",
        "kind",
        "title",
        "description",
        "channel",
        "grade",
        "system",
        "status",
        "vendor",
        "engineer",
        "reported_at",
        "responded_at",
        "resolved_at",
        "closed_at",
        "response_due",
        "resolution_due",
        "created_at",
        "updated_at",
        "version",
        "category",
        "tags",
        "requester",
        "requester_name",
        "requester_department",
        "requester_phone",
        "requester_email",
        "resolution_code",
        "resolution",
        "first_line_resolution",
        "pending_reason",
        "allowed_actions",
    }
    assert expected <= set(body)
    assert body["vendor"] == "acme"
    assert body["category"] == "network"
    assert sorted(body["tags"]) == sorted(["机房", "核心"])
    for name in ("reported_at", "response_due", "resolution_due", "created_at", "updated_at"):
        assert OFFSET.match(body[name]), (name, body[name])
    assert "assign" in body["allowed_actions"]
    assert "accept" in body["allowed_actions"]


def test_allowed_actions_are_only_on_the_detail(desk):
    # given a ticket
    make_ticket(actor=desk)

    # when the list is read
    rows = api(desk).get(url(LIST)).json()["results"]

    # then rows are lean
    assert rows and "allowed_actions" not in rows[0]


def test_requester_files_a_ticket_for_himself(system):
    # given a requester
    user = factories.requester(username="zhang", full_name="张三", department="办公室")

    # when he posts a request naming someone else as requester
    other = factories.requester(username="li")
    response = api(user).post(
        url(LIST),
        {"title": "申请 VPN 账号", "kind": "request", "requester": other.pk},
        format="json",
    )

    # then the ticket is his
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["requester"] == user.pk
    assert body["requester_name"] == "张三"
    assert body["kind"] == "request"
    assert body["grade"] is None
    assert "close" not in body["allowed_actions"]


# ---------------------------------------------------------------------------------------------
# The whole lifecycle


def test_full_lifecycle_via_api(desk, vendor, engineer, system):
    desk_api, vendor_api = api(desk), api(engineer)

    # given a ticket logged by the desk
    created = desk_api.post(url(LIST), {"title": "邮件发送失败", "grade": 2, "system": "oa"})
    assert created.status_code == 201, created.content
    pk = created.json()["id"]

    def step(client, action, body=None, expected_status="", code=200):
        response = client.post(do(pk, action), body or {}, format="json")
        assert response.status_code == code, (action, response.content)
        if expected_status:
            assert response.json()["status"] == expected_status
        return response.json()

    # when it walks through dispatch, work, a pause, resolution and closure
    assigned = step(desk_api, "assign", {"vendor": "acme", "engineer": engineer.pk}, "assigned")
    assert assigned["vendor"] == "acme"
    assert assigned["engineer"] == engineer.pk
    accepted = step(vendor_api, "accept", expected_status="accepted")
    assert accepted["responded_at"]
    step(vendor_api, "start", expected_status="in_progress")
    pended = step(vendor_api, "pend", {"reason": "等待用户提供日志"}, "pending")
    assert pended["pending_reason"] == "等待用户提供日志"
    resumed = step(vendor_api, "resume", expected_status="in_progress")
    assert resumed["pending_reason"] == ""
    resolved = step(
        vendor_api,
        "resolve",
        {"resolution": "重启邮件服务", "resolution_code": "workaround"},
        "resolved",
    )
    assert resolved["resolution_code"] == "workaround"
    assert resolved["resolved_at"]
    assert resolved["first_line_resolution"] is False
    closed = step(desk_api, "close", {"note": "用户确认"}, "closed")
    assert closed["closed_at"]
    reopened = step(desk_api, "reopen", {"reason": "问题复现"}, "in_progress")
    assert reopened["closed_at"] is None
    step(desk_api, "regrade", {"grade": 1, "reason": "影响全局"})

    # then the history tells the story, oldest first
    history = desk_api.get(do(pk, "history")).json()
    assert history["count"] == 10
    assert [row["action"] for row in history["results"]] == [
        EventAction.CREATED,
        EventAction.ASSIGNED,
        EventAction.ACCEPTED,
        EventAction.STARTED,
        EventAction.PENDED,
        EventAction.RESUMED,
        EventAction.RESOLVED,
        EventAction.CLOSED,
        EventAction.REOPENED,
        EventAction.REGRADED,
    ]
    regraded = history["results"][-1]
    assert regraded["changes"]["grade"] == [2, 1]
    assert regraded["note"] == "影响全局"
    assert regraded["actor"] == desk.pk
    assert OFFSET.match(regraded["at"])
    assert Ticket.objects.get(pk=pk).version == 10


def test_desk_cancels_a_new_ticket(desk):
    # given a new ticket
    ticket = make_ticket(actor=desk)

    # when the desk cancels it with a reason
    response = api(desk).post(do(ticket, "cancel"), {"reason": "重复报障"}, format="json")

    # then it is cancelled
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancel_reason"] == "重复报障"


def test_desk_resolves_at_first_line(desk):
    # given a new ticket
    ticket = make_ticket(actor=desk)

    # when the desk resolves it before any vendor
    response = api(desk).post(do(ticket, "resolve"), {"resolution": "指导用户清除缓存"})

    # then it counts as first-line resolution, with the default resolution code
    assert response.status_code == 200, response.content
    assert response.json()["first_line_resolution"] is True
    assert response.json()["resolution_code"] == "fixed"


def test_desk_edits_descriptive_fields_with_patch(desk, system):
    # given a ticket on another system
    ticket = make_ticket(actor=desk, title="旧标题")

    # when the desk patches title, system and tags
    response = api(desk).patch(
        detail(ticket),
        {"title": "新标题", "system": "oa", "tags": ["复发"]},
        format="json",
        HTTP_IF_MATCH=f'W/"{ticket.version}"',
    )

    # then the changes and a new version come back
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["title"] == "新标题"
    assert body["system"] == "oa"
    assert body["tags"] == ["复发"]
    assert body["version"] == ticket.version + 1
    assert response["ETag"] == f'W/"{ticket.version + 1}"'


def test_put_is_not_offered(desk):
    ticket = make_ticket(actor=desk)

    response = api(desk).put(detail(ticket), {"title": "x"}, format="json")

    assert response.status_code == 405


# ---------------------------------------------------------------------------------------------
# Listing: filters, ordering, pagination


def test_list_filters_by_status_system_vendor_kind_and_search(desk, vendor, system):
    # given tickets in several shapes
    on_oa = make_ticket(actor=desk, system=system, title="OA 打印失败")
    dispatched = assigned_ticket(actor=desk, vendor=vendor, title="CRM 卡顿")
    request = make_ticket(actor=desk, kind="request", title="开通权限", system=None)
    client = api(desk)

    def ids(**params):
        response = client.get(url(LIST), params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    # then each filter narrows the list
    assert ids(system="oa") == {on_oa.pk}
    assert ids(vendor="acme") == {dispatched.pk}
    assert ids(status="assigned") == {dispatched.pk}
    assert ids(status=["new", "assigned"]) == {on_oa.pk, dispatched.pk, request.pk}
    assert ids(kind="request") == {request.pk}
    assert ids(grade="3") == {on_oa.pk, dispatched.pk}
    assert ids(channel="phone") == {on_oa.pk, dispatched.pk, request.pk}
    assert ids(search="打印") == {on_oa.pk}


def test_list_filters_by_reported_and_updated_ranges(desk):
    # given an old and a recent ticket
    now = timezone.now()
    old = make_ticket(actor=desk, reported_at=now - timedelta(days=10))
    recent = make_ticket(actor=desk, reported_at=now - timedelta(hours=1))
    client = api(desk)
    since = (now - timedelta(days=2)).isoformat()

    # when filtering by reported and updated ranges
    reported = client.get(url(LIST), {"reported_after": since}).json()["results"]
    before = client.get(url(LIST), {"reported_before": since}).json()["results"]
    updated = client.get(url(LIST), {"updated_after": since}).json()["results"]

    # then
    assert [row["id"] for row in reported] == [recent.pk]
    assert [row["id"] for row in before] == [old.pk]
    assert {row["id"] for row in updated} == {old.pk, recent.pk}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"system": "no-such-system"}, "system"),
        ({"vendor": "no-such-vendor"}, "vendor"),
        ({"vendor": "a\x00b"}, "vendor"),
        ({"system": "\x00"}, "system"),
        ({"status": "bogus"}, "status"),
        ({"grade": "9"}, "grade"),
        ({"reported_after": "yesterday"}, "reported_after"),
        ({"ordering": "title"}, "ordering"),
        ({"ordering": "-password"}, "ordering"),
    ],
)
def test_bad_list_parameters_are_400_naming_the_parameter(desk, params, field):
    response = api(desk).get(url(LIST), params)

    assert response.status_code == 400
    assert field in response.json()


def test_list_is_newest_first_by_default_and_orders_by_whitelist(desk):
    # given three tickets of different grades
    first = make_ticket(actor=desk, grade=2)
    second = make_ticket(actor=desk, grade=1)
    third = make_ticket(actor=desk, grade=3)
    client = api(desk)

    def order(**params):
        return [row["id"] for row in client.get(url(LIST), params).json()["results"]]

    # then
    assert order() == [third.pk, second.pk, first.pk]
    assert order(ordering="number") == [first.pk, second.pk, third.pk]
    assert order(ordering="-number") == [third.pk, second.pk, first.pk]
    assert order(ordering="grade") == [second.pk, first.pk, third.pk]
    assert order(ordering="-grade,number") == [third.pk, first.pk, second.pk]
    assert order(ordering="reported_at") == [first.pk, second.pk, third.pk]
    assert order(ordering="resolution_due")[0] == second.pk
    assert order(ordering="updated_at")[0] == first.pk


def test_ties_break_by_id_in_the_sorts_direction_and_not_null_columns_say_nothing_of_nulls(desk):
    # so that one index serves each order: ``reported_at DESC NULLS LAST, id DESC`` kept
    # PostgreSQL from reading the (reported_at, id) index backwards
    make_ticket(actor=desk)
    client = api(desk)

    with CaptureQueriesContext(connection) as captured:
        client.get(url(LIST), {"ordering": "reported_at"})
        client.get(url(LIST), {"ordering": "-reported_at"})
        client.get(url(LIST), {"ordering": "resolution_due"})

    pages = [q["sql"] for q in captured if "ORDER BY" in q["sql"] and "LIMIT" in q["sql"]]
    ascending, descending, deadline = (sql.split("ORDER BY")[1] for sql in pages[-3:])
    assert "NULLS" not in ascending and "ASC" in ascending and "DESC" not in ascending
    assert "NULLS" not in descending and "ASC" not in descending
    assert "NULLS LAST" in deadline and '"id" ASC' in deadline


@pytest.mark.postgres
@pytest.mark.parametrize("key", ["number", "reported_at", "updated_at", "resolution_due", "grade"])
@pytest.mark.parametrize("direction", ["", "-"])
def test_each_single_key_ordering_reads_an_index_in_order(desk, key, direction):
    # A sort no index serves is a full sort of the table: 640 ms per page on 1M tickets.
    make_ticket(actor=desk)
    client = api(desk)

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url(LIST), {"ordering": direction + key}).status_code == 200

    (page_query,) = [q["sql"] for q in captured if "ORDER BY" in q["sql"] and "LIMIT" in q["sql"]]
    with connection.cursor() as cursor:
        # On a near-empty table the planner would scan and sort: make it show an ordered index
        # path if one exists (with sorts off it still sorts when no index yields the order).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + page_query)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Sort" not in plan, plan


def test_page_size_is_honoured_up_to_the_cap(desk, settings):
    # given a cap of 2 and three tickets
    settings.OPSDESK_API_MAX_PAGE_SIZE = 2
    for _ in range(3):
        make_ticket(actor=desk)
    client = api(desk)

    # when a client asks for one, then for a hundred per page
    one = client.get(url(LIST), {"page_size": 1}).json()
    many = client.get(url(LIST), {"page_size": 100}).json()

    # then the count is total and the page never exceeds the cap
    assert one["count"] == 3
    assert len(one["results"]) == 1
    assert many["count"] == 3
    assert len(many["results"]) == 2
    assert many["next"]


# ---------------------------------------------------------------------------------------------
# Bad input: 400 naming the field, never a 500


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x", "grade": 2, "system": "no-such-system"}, "system"),
        ({"title": "x", "grade": 4, "system": "oa"}, "grade"),
        ({"title": "x", "grade": 0, "system": "oa"}, "grade"),
        ({"title": "x", "grade": "high", "system": "oa"}, "grade"),
        ({"title": "x", "grade": 1.5, "system": "oa"}, "grade"),
        ({"title": "x", "system": "oa"}, "grade"),  # an incident needs a grade
        ({"title": "x", "kind": "request", "grade": 1}, "grade"),
        ({"title": "", "grade": 2}, "title"),
        ({"title": "   ", "grade": 2}, "title"),
        ({"grade": 2}, "title"),
        ({"title": ["x"], "grade": 2}, "title"),
        ({"title": "x" * 201, "grade": 2}, "title"),
        ({"title": "x", "kind": "outage", "grade": 2}, "kind"),
        ({"title": "x", "channel": "fax", "grade": 2}, "channel"),
        ({"title": "x", "grade": 2, "category": "nope"}, "category"),
        ({"title": "x", "grade": 2, "tags": "a,b"}, "tags"),
        ({"title": "x", "grade": 2, "requester": 999999}, "requester"),
        ({"title": "x", "grade": 2, "requester_email": "not-an-email"}, "requester_email"),
        ({"title": "x", "grade": 2, "reported_at": "2999-01-01T00:00:00+08:00"}, "reported_at"),
        ({"title": "x", "grade": 2, "reported_at": "last tuesday"}, "reported_at"),
        ({"title": "x", "grade": 2, "status": "closed"}, "status"),
        ({"title": "x", "grade": 2, "description": None}, "description"),
        ({"title": "x\x00y", "grade": 2}, "title"),
        ({"title": "x", "grade": True}, "grade"),
        ({"title": "x", "grade": 2, "system": {"code": "oa"}}, "system"),
        # a NUL byte in a looked-up code is an error in PostgreSQL (was a 500)
        ({"title": "x", "grade": 2, "system": "o\x00a"}, "system"),
        ({"title": "x", "grade": 2, "category": "\x00"}, "category"),
        ({"title": "x", "grade": 2, "system": "x" * 51}, "system"),
        ({"title": "x", "grade": 2, "requester": 99999999999999999999}, "requester"),
        (["not", "an", "object"], "non_field_errors"),
    ],
)
def test_bad_ticket_input_is_400_naming_the_field(desk, system, body, field):
    response = api(desk).post(url(LIST), body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Ticket.objects.exists()


def test_unknown_fields_are_reported_with_the_other_errors(desk):
    response = api(desk).post(url(LIST), {"title": "", "grade": 7, "foo": 1}, format="json")

    assert response.status_code == 400
    assert {"title", "grade", "foo"} <= set(response.json())


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "2026-02-30T10:00:00"]
)
def test_out_of_range_reported_at_is_400_not_500(desk, moment):
    response = api(desk).post(
        url(LIST), {"title": "x", "grade": 2, "reported_at": moment}, format="json"
    )

    assert response.status_code == 400
    assert "reported_at" in response.json()


def test_future_reported_at_is_rejected_by_the_service_rule(desk, system):
    soon = (timezone.now() + timedelta(minutes=30)).isoformat()

    response = api(desk).post(
        url(LIST), {"title": "x", "grade": 2, "reported_at": soon}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "reported_at"
    assert response.json()["code"] == "invalid"


def test_inactive_system_is_400(desk, system):
    system.is_active = False
    system.save(update_fields=["is_active"])

    response = api(desk).post(url(LIST), {"title": "x", "grade": 2, "system": "oa"})

    assert response.status_code == 400
    assert "system" in response.json()


def test_system_codes_come_from_the_cache_and_unknown_ones_stay_400(desk, system):
    client = api(desk)
    body = {"title": "OA 无法登录", "grade": 2, "system": "oa"}
    assert client.post(url(LIST), body, format="json").status_code == 201

    # when the same code comes again, it is not looked up
    with CaptureQueriesContext(connection) as queries:
        again = client.post(url(LIST), body, format="json")
    assert again.status_code == 201
    assert not [q for q in queries if "directory_businesssystem" in q["sql"]]

    # and an unknown code is still a 400 naming the field, every time
    for _ in range(2):
        unknown = client.post(url(LIST), {**body, "system": "no-such"}, format="json")
        assert unknown.status_code == 400
        assert "system" in unknown.json()


def test_a_system_added_a_moment_ago_is_accepted_at_once(desk, system):
    client = api(desk)
    assert client.post(url(LIST), {"title": "x", "grade": 2, "system": "oa"}).status_code == 201

    factories.BusinessSystemFactory(code="erp", name="财务系统")
    response = client.post(url(LIST), {"title": "x", "grade": 2, "system": "erp"})

    assert response.status_code == 201, response.content
    assert response.json()["system"] == "erp"


def test_created_ticket_answers_its_tags_with_or_without_any(desk):
    client = api(desk)

    plain = client.post(url(LIST), {"title": "x", "grade": 2}, format="json").json()
    tagged = client.post(
        url(LIST), {"title": "x", "grade": 2, "tags": ["网络", " 机房 ", "网络"]}, format="json"
    ).json()

    assert plain["tags"] == []
    assert tagged["tags"] == ["机房", "网络"]
    assert client.get(detail(tagged["id"])).json()["tags"] == ["机房", "网络"]


def test_api_create_query_count_cannot_grow(desk, system, django_assert_num_queries):
    # given a monitoring client with a token, the system's code already resolved once
    token = Token.objects.create(user=desk).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    body = {"title": "监控告警：接口响应超时", "grade": 2, "system": "oa", "channel": "monitoring"}
    assert client.post(url(LIST), body, format="json").status_code == 201

    # then a create costs the token with the user's roles and, between the test transaction's
    # SAVEPOINT and RELEASE, one INSERT on PostgreSQL (four on SQLite)
    expected = 4 if connection.vendor == "postgresql" else 7
    with django_assert_num_queries(expected):
        assert client.post(url(LIST), body, format="json").status_code == 201


def test_malformed_json_is_400(desk):
    response = api(desk).post(
        url(LIST), data='{"title": "x", "grade": 2,', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_unsupported_media_type_is_415(desk):
    response = api(desk).post(url(LIST), data="title=x", content_type="text/plain")

    assert response.status_code == 415


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("assign", {}, "vendor"),
        ("assign", {"vendor": "no-such-vendor"}, "vendor"),
        ("assign", {"vendor": "ac\x00me"}, "vendor"),
        ("assign", {"vendor": 7}, "vendor"),
        ("assign", {"vendor": "acme", "engineer": "bob"}, "engineer"),
        ("assign", {"vendor": "acme", "engineer": 999999}, "engineer"),
        ("pend", {}, "reason"),
        ("pend", {"reason": ""}, "reason"),
        ("resolve", {}, "resolution"),
        ("resolve", {"resolution": "x", "resolution_code": "magic"}, "resolution_code"),
        ("regrade", {"grade": 5, "reason": "x"}, "grade"),
        ("regrade", {"grade": 1}, "reason"),
        ("reopen", {}, "reason"),
        ("cancel", {"reason": "   "}, "reason"),
        ("accept", {"version": "latest"}, "version"),
        ("accept", {"version": 0}, "version"),
        ("start", {"force": True}, "force"),
    ],
)
def test_bad_transition_input_is_400_naming_the_field(desk, vendor, action, body, field):
    ticket = make_ticket(actor=desk)

    response = api(desk).post(do(ticket, action), body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()


def test_engineer_of_another_vendor_is_400(desk, vendor, other_engineer):
    ticket = make_ticket(actor=desk)

    response = api(desk).post(
        do(ticket, "assign"), {"vendor": "acme", "engineer": other_engineer.pk}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "engineer"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "closed"}, "status"),
        ({"title": ""}, "title"),
        ({"kind": "outage"}, "kind"),
        ({"kind": "request"}, "kind"),  # incident ↔ non-incident is a regrade decision
        ({"system": "no-such-system"}, "system"),
        ({"system": "o\x00a"}, "system"),
        ({"category": "\x00"}, "category"),
        ({"grade": 1}, "grade"),
    ],
)
def test_bad_patch_is_400_naming_the_field(desk, system, body, field):
    ticket = make_ticket(actor=desk)

    response = api(desk).patch(detail(ticket), body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()


@pytest.mark.parametrize("pk", ["abc", "0", "99999999999999999999", "-1", "%00"])
def test_odd_ticket_ids_are_404(desk, pk):
    response = api(desk).get(f"/api/v1/tickets/{pk}/")

    assert response.status_code == 404


# ---------------------------------------------------------------------------------------------
# Invalid transitions: 409 invalid_transition


def test_invalid_transition_is_409_with_code(desk):
    # given a new ticket (nobody has accepted it)
    ticket = make_ticket(actor=desk)

    # when the desk tries to start work on it
    response = api(desk).post(do(ticket, "start"), {}, format="json")

    # then
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "invalid_transition"
    assert body["detail"]
    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW


def test_regrade_to_the_same_grade_is_409(desk):
    ticket = make_ticket(actor=desk, grade=2)

    response = api(desk).post(do(ticket, "regrade"), {"grade": 2, "reason": "复核"})

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


def test_editing_a_closed_ticket_is_409(desk, vendor):
    ticket = resolved_ticket(vendor=vendor)
    services.ticket_close(actor=desk, ticket_id=ticket.pk)

    response = api(desk).patch(detail(ticket), {"title": "改"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


# ---------------------------------------------------------------------------------------------
# Optimistic concurrency


def test_detail_carries_the_version_as_etag(desk):
    ticket = make_ticket(actor=desk)

    response = api(desk).get(detail(ticket))

    assert response["ETag"] == f'W/"{ticket.version}"'
    assert response.json()["version"] == ticket.version


def test_stale_if_match_is_409_stale_version_and_changes_nothing(desk, vendor):
    # given two desk agents who read the same ticket
    ticket = make_ticket(actor=desk, title="原标题")
    colleague = factories.desk_agent()
    seen = api(desk).get(detail(ticket))["ETag"]

    # when the colleague edits it first
    first = api(colleague).patch(
        detail(ticket), {"title": "同事改的"}, format="json", HTTP_IF_MATCH=seen
    )
    assert first.status_code == 200

    # then the agent's edit and transition with the old ETag are refused
    late = api(desk).patch(detail(ticket), {"title": "我改的"}, format="json", HTTP_IF_MATCH=seen)
    assert late.status_code == 409
    assert late.json()["code"] == "stale_version"
    dispatch = api(desk).post(do(ticket, "assign"), {"vendor": "acme"}, HTTP_IF_MATCH=seen)
    assert dispatch.status_code == 409
    assert dispatch.json()["code"] == "stale_version"
    ticket.refresh_from_db()
    assert ticket.title == "同事改的"
    assert ticket.status == Status.NEW


def test_stale_body_version_is_409(desk):
    ticket = make_ticket(actor=desk)

    response = api(desk).post(
        do(ticket, "cancel"), {"reason": "重复", "version": ticket.version + 5}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "stale_version"


@pytest.mark.parametrize("header", ['W/"{v}"', '"{v}"', "{v}", "*"])
def test_current_if_match_forms_are_accepted(desk, header):
    ticket = make_ticket(actor=desk)

    response = api(desk).post(
        do(ticket, "cancel"), {"reason": "重复"}, HTTP_IF_MATCH=header.format(v=ticket.version)
    )

    assert response.status_code == 200, response.content
    assert response["ETag"] == f'W/"{ticket.version + 1}"'


@pytest.mark.parametrize("header", ["yesterday", '"1', 'W/"1"x', '"1", "2"', "1.0"])
def test_malformed_if_match_is_400(desk, header):
    ticket = make_ticket(actor=desk)

    response = api(desk).post(do(ticket, "cancel"), {"reason": "x"}, HTTP_IF_MATCH=header)

    assert response.status_code == 400
    assert response.json()["field"] == "If-Match"
    assert Ticket.objects.get(pk=ticket.pk).status == Status.NEW


def test_if_match_and_body_version_must_agree(desk):
    ticket = make_ticket(actor=desk)

    response = api(desk).post(
        do(ticket, "cancel"),
        {"reason": "x", "version": ticket.version},
        format="json",
        HTTP_IF_MATCH=f'W/"{ticket.version + 1}"',
    )

    assert response.status_code == 400
    assert response.json()["field"] == "version"


# ---------------------------------------------------------------------------------------------
# Authentication


def test_token_authentication_works(desk):
    # given a token made the documented way
    call_command("drf_create_token", desk.username, stdout=StringIO())
    token = Token.objects.get(user=desk).key
    make_ticket(actor=desk)
    client = APIClient()

    # when a client sends it
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    listed = client.get(url(LIST))
    created = client.post(url(LIST), {"title": "监控告警：磁盘满", "grade": 1}, format="json")

    # then it reads and writes as that user
    assert listed.status_code == 200
    assert listed.json()["count"] == 1
    assert created.status_code == 201
    assert created.json()["channel"] == "api"


def test_anonymous_and_bad_token_are_401():
    client = APIClient()
    assert client.get(url(LIST)).status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get(url(LIST)).status_code == 401


# ---------------------------------------------------------------------------------------------
# Roles


def test_leader_reads_everything_but_every_write_is_403(desk, vendor):
    # given a centre leader and a dispatched ticket
    leader = factories.leader()
    ticket = assigned_ticket(actor=desk, vendor=vendor)
    client = api(leader)

    # then reads work
    assert client.get(url(LIST)).json()["count"] == 1
    assert client.get(detail(ticket)).json()["allowed_actions"] == []
    assert client.get(do(ticket, "history")).status_code == 200

    # and writes are forbidden, whatever the body
    assert client.post(url(LIST), {"title": "x", "grade": 2}).status_code == 403
    assert client.patch(detail(ticket), {"title": "x"}).status_code == 403
    for action, body in TRANSITION_BODIES.items():
        response = client.post(do(ticket, action), body, format="json")
        assert response.status_code == 403, action
        assert response.json()["code"] == "permission_denied"
        assert client.post(do(ticket, action), {}, format="json").status_code == 403
    assert client.post(do(ticket, "comments"), {"body": "x"}).status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version


def test_vendor_staff_may_not_dispatch_or_create(desk, vendor, engineer):
    ticket = assigned_ticket(actor=desk, vendor=vendor)
    client = api(engineer)

    assert client.post(url(LIST), {"title": "x", "grade": 2}).status_code == 403
    assert client.post(do(ticket, "assign"), {"vendor": "acme"}).status_code == 403
    assert client.post(do(ticket, "cancel"), {"reason": "x"}).status_code == 403
    assert client.patch(detail(ticket), {"title": "x"}).status_code == 403


def test_requester_sees_only_his_own_tickets(desk):
    # given two requesters with a ticket each
    mine_user = factories.requester()
    other_user = factories.requester()
    mine = make_ticket(actor=desk, requester=mine_user)
    theirs = make_ticket(actor=desk, requester=other_user)
    client = api(mine_user)

    # then
    assert [row["id"] for row in client.get(url(LIST)).json()["results"]] == [mine.pk]
    assert client.get(detail(mine)).status_code == 200
    assert client.get(detail(theirs)).status_code == 404
    assert client.get(do(theirs, "comments")).status_code == 404
    assert client.post(do(theirs, "comments"), {"body": "x"}).status_code == 404


def test_requester_never_sees_internal_comments(desk, vendor, engineer):
    # given a ticket with a public reply and internal notes from desk and vendor
    user = factories.requester()
    ticket = accepted_ticket(vendor=vendor, engineer=engineer, requester=user)
    assert api(desk).post(do(ticket, "comments"), {"body": "已派单"}).status_code == 201
    note = api(desk).post(do(ticket, "comments"), {"body": "内部：疑似配置错误", "internal": True})
    assert note.status_code == 201
    assert note.json()["internal"] is True
    vendor_note = api(engineer).post(
        do(ticket, "comments"), {"body": "内部：需停机", "internal": True}, format="json"
    )
    assert vendor_note.status_code == 201

    # when the requester reads comments and history
    comments = api(user).get(do(ticket, "comments")).json()
    history = api(user).get(do(ticket, "history")).json()

    # then only the public reply is there, and no trace of the notes
    assert [c["body"] for c in comments["results"]] == ["已派单"]
    assert comments["count"] == 1
    actions = [row["action"] for row in history["results"]]
    assert EventAction.NOTED not in actions
    assert EventAction.COMMENTED in actions
    # while the desk sees all three
    assert api(desk).get(do(ticket, "comments")).json()["count"] == 3


def test_requester_may_not_post_internal_notes_but_may_reply(desk):
    user = factories.requester()
    ticket = make_ticket(actor=desk, requester=user)
    client = api(user)

    internal = client.post(do(ticket, "comments"), {"body": "x", "internal": True}, format="json")
    public = client.post(do(ticket, "comments"), {"body": "补充：截图见附件"}, format="json")

    assert internal.status_code == 403
    assert public.status_code == 201
    assert public.json()["author"] == user.pk


def test_empty_comment_is_400(desk):
    ticket = make_ticket(actor=desk)

    response = api(desk).post(do(ticket, "comments"), {"body": "  "}, format="json")

    assert response.status_code == 400
    assert "body" in response.json()


def test_requester_confirms_and_reopens_his_ticket(desk, vendor):
    user = factories.requester()
    ticket = resolved_ticket(vendor=vendor, requester=user)
    client = api(user)

    closed = client.post(do(ticket, "close"), {}, format="json")
    reopened = client.post(do(ticket, "reopen"), {"reason": "又坏了"}, format="json")

    assert closed.status_code == 200
    assert reopened.status_code == 200
    assert reopened.json()["status"] == "in_progress"


# ---------------------------------------------------------------------------------------------
# Vendor isolation: another vendor's ticket does not exist, on every endpoint

TRANSITION_BODIES = {
    "assign": {"vendor": "acme"},
    "accept": {},
    "start": {},
    "pend": {"reason": "x"},
    "resume": {},
    "resolve": {"resolution": "x"},
    "close": {},
    "reopen": {"reason": "x"},
    "cancel": {"reason": "x"},
    "regrade": {"grade": 1, "reason": "x"},
}

ENDPOINTS = [
    ("get", "api:ticket-detail", None),
    ("patch", "api:ticket-detail", {"title": "x"}),
    ("patch", "api:ticket-detail", {"title": ""}),
    *[("post", f"api:ticket-{name}", body) for name, body in TRANSITION_BODIES.items()],
    *[("post", f"api:ticket-{name}", {}) for name in TRANSITION_BODIES],
    ("get", "api:ticket-comments", None),
    ("post", "api:ticket-comments", {"body": "x"}),
    ("post", "api:ticket-comments", {"body": "x", "internal": True}),
    ("get", "api:ticket-attachments", None),
    ("get", "api:ticket-history", None),
]


@pytest.mark.parametrize(("method", "name", "body"), ENDPOINTS)
def test_vendor_cannot_see_other_vendors_ticket(
    desk, vendor, engineer, other_engineer, method, name, body
):
    # given a ticket in progress at Acme
    ticket = in_progress_ticket(vendor=vendor, engineer=engineer)

    # when a Globex engineer calls any endpoint on it, valid body or not
    client = api(other_engineer)
    response = getattr(client, method)(url(name, ticket), body, format="json")

    # then it does not exist, and nothing changed
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"
    assert Ticket.objects.get(pk=ticket.pk).version == ticket.version


def test_vendor_list_shows_only_own_tickets(desk, vendor, other_vendor, engineer):
    mine = assigned_ticket(actor=desk, vendor=vendor)
    assigned_ticket(actor=desk, vendor=other_vendor)
    make_ticket(actor=desk)
    client = api(engineer)

    assert [row["id"] for row in client.get(url(LIST)).json()["results"]] == [mine.pk]
    assert client.get(url(LIST), {"vendor": "globex"}).json()["count"] == 0


def test_vendor_loses_sight_of_a_ticket_dispatched_elsewhere(desk, vendor, other_vendor, engineer):
    ticket = assigned_ticket(actor=desk, vendor=vendor)
    assert api(engineer).get(detail(ticket)).status_code == 200

    moved = api(desk).post(do(ticket, "assign"), {"vendor": "globex"}, format="json")

    assert moved.status_code == 200
    assert moved.json()["vendor"] == "globex"
    assert api(engineer).get(detail(ticket)).status_code == 404


# ---------------------------------------------------------------------------------------------
# Directory endpoints


def test_systems_and_vendors_are_listed_by_code(vendor, system, desk):
    factories.BusinessSystemFactory(code="crm", vendor=vendor, is_active=False)
    client = api(desk)

    systems = client.get(url("api:system-list")).json()
    vendors = client.get(url("api:vendor-list")).json()
    active = client.get(url("api:system-list"), {"is_active": "true"}).json()
    one = client.get(reverse("api:system-detail", args=["oa"])).json()

    assert [row["code"] for row in systems["results"]] == ["crm", "oa"]
    assert systems["results"][1] == {
        "code": "oa",
        "name": "办公系统",
        "tier": "main",
        "vendor": "acme",
        "is_active": True,
    }
    assert [row["code"] for row in active["results"]] == ["oa"]
    assert [row["code"] for row in vendors["results"]] == ["acme"]
    assert one["vendor"] == "acme"
    assert client.get(reverse("api:vendor-detail", args=["nope"])).status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/systems/a%00b/", "/api/v1/vendors/%00/"])
def test_odd_directory_codes_are_404(desk, path):
    assert api(desk).get(path).status_code == 404


@pytest.mark.parametrize("param", ["system", "vendor", "category"])
def test_nul_bytes_in_filters_are_400(desk, param):
    response = api(desk).get(url(LIST), {param: "a\x00b"})

    assert response.status_code == 400
    assert param in response.json()


def test_directory_is_read_only(desk):
    client = api(desk)

    assert client.post(url("api:system-list"), {"code": "x"}).status_code == 405
    assert client.post(url("api:vendor-list"), {"code": "x"}).status_code == 405


# ---------------------------------------------------------------------------------------------
# Query counts do not grow with rows


def queries_for(client: APIClient, path: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, {"page_size": 100, **(params or {})})
    assert response.status_code == 200, response.content
    return len(captured)


def test_ticket_list_query_count_is_constant(desk, vendor):
    engineer = factories.vendor_engineer(vendor)
    category = Category.objects.create(code="app", name="应用")

    def add(n):
        for i in range(n):
            ticket = accepted_ticket(vendor=vendor, engineer=engineer, category=category)
            services.ticket_update(actor=desk, ticket_id=ticket.pk, changes={}, tags=[f"t{i}"])

    client = api(desk)
    add(5)
    few = queries_for(client, url(LIST))
    add(45)
    many = queries_for(client, url(LIST))

    assert few == many
    assert client.get(url(LIST), {"page_size": 100}).json()["count"] == 50


def test_comment_and_history_query_counts_are_constant(desk):
    ticket = make_ticket(actor=desk)
    client = api(desk)

    def add(n):
        for i in range(n):
            services.comment_add(
                actor=desk, ticket_id=ticket.pk, body=f"c{i}", internal=bool(i % 2)
            )

    add(5)
    few = (queries_for(client, do(ticket, "comments")), queries_for(client, do(ticket, "history")))
    add(45)
    many = (queries_for(client, do(ticket, "comments")), queries_for(client, do(ticket, "history")))

    assert few == many


def test_directory_query_counts_are_constant(desk):
    client = api(desk)

    factories.BusinessSystemFactory.create_batch(5)
    few = (queries_for(client, url("api:system-list")), queries_for(client, url("api:vendor-list")))
    factories.BusinessSystemFactory.create_batch(45)
    many = (
        queries_for(client, url("api:system-list")),
        queries_for(client, url("api:vendor-list")),
    )

    assert few == many


# ---------------------------------------------------------------------------------------------
# OpenAPI schema and offline docs


def test_schema_describes_the_api(desk):
    response = api(desk).get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = json.loads(response.content)
    paths = schema["paths"]
    for path in (
        "/api/v1/tickets/",
        "/api/v1/tickets/{id}/",
        "/api/v1/tickets/{id}/assign/",
        "/api/v1/tickets/{id}/regrade/",
        "/api/v1/tickets/{id}/comments/",
        "/api/v1/tickets/{id}/attachments/",
        "/api/v1/tickets/{id}/history/",
        "/api/v1/systems/",
        "/api/v1/vendors/",
    ):
        assert path in paths, path
    assign = paths["/api/v1/tickets/{id}/assign/"]["post"]
    assert "409" in assign["responses"]
    assert any(p["name"] == "If-Match" for p in assign["parameters"])
    assert "ETag" in assign["responses"]["200"]["headers"]
    upload = paths["/api/v1/tickets/{id}/attachments/"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload


def test_schema_validates_without_warnings(tmp_path):
    # --fail-on-warn turns any schema warning into an error
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yaml"),
    )

    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")


@pytest.mark.parametrize("path", ["/api/schema/swagger/", "/api/schema/redoc/"])
def test_api_docs_are_served_offline(client, path):
    response = client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert links, "expected script or stylesheet links"
    outside = [link for link in links if re.match(r"^(?:[a-z]+:)?//", link, re.I)]
    assert outside == []
    assert "cdn." not in html
    assert "unpkg" not in html
    for link in links:
        if link.startswith(settings.STATIC_URL) or link.startswith(f"/{settings.STATIC_URL}"):
            relative = link.split(settings.STATIC_URL, 1)[1].split("?")[0]
            assert finders.find(relative), link


def test_desk_links_tickets_over_the_api_and_detail_lists_the_links(db):
    # Given two tickets
    desk = factories.desk_agent()
    outage, symptom = make_ticket(actor=desk), make_ticket(actor=desk)
    client = APIClient()
    client.force_authenticate(desk)
    # When the desk marks one as caused by the other
    response = client.post(
        f"/api/v1/tickets/{symptom.pk}/link/",
        {"target": outage.pk, "kind": "caused_by"},
        format="json",
    )
    # Then both sides show the link
    assert response.status_code == 200, response.content
    assert response.json()["links"] == [
        {"kind": "caused_by", "direction": "out", "ticket": outage.pk, "number": outage.number}
    ]
    other_side = client.get(f"/api/v1/tickets/{outage.pk}/").json()
    assert other_side["links"][0]["direction"] == "in"
    # And linking again is a conflict, an unknown kind a 400 naming the field
    again = client.post(
        f"/api/v1/tickets/{symptom.pk}/link/",
        {"target": outage.pk, "kind": "caused_by"},
        format="json",
    )
    assert again.status_code == 409
    bad = client.post(
        f"/api/v1/tickets/{symptom.pk}/link/", {"target": outage.pk, "kind": "x"}, format="json"
    )
    assert bad.status_code == 400
    assert "kind" in bad.json()


def test_duplicate_of_is_exposed_and_vendors_cannot_link(db):
    desk = factories.desk_agent()
    vendor = factories.VendorFactory()
    original = make_ticket(actor=desk)
    repeat = make_ticket(actor=desk)
    services.ticket_assign(actor=desk, ticket_id=repeat.pk, vendor=vendor)
    client = APIClient()
    client.force_authenticate(desk)
    client.post(
        f"/api/v1/tickets/{repeat.pk}/link/",
        {"target": original.pk, "kind": "duplicate_of"},
        format="json",
    )
    assert client.get(f"/api/v1/tickets/{repeat.pk}/").json()["duplicate_of"] == original.pk
    engineer_client = APIClient()
    engineer_client.force_authenticate(factories.vendor_engineer(vendor))
    refused = engineer_client.post(
        f"/api/v1/tickets/{repeat.pk}/link/",
        {"target": repeat.pk, "kind": "related"},
        format="json",
    )
    assert refused.status_code == 403
