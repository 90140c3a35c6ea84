"""Excel export of ticket lists: columns, local time, filters, scope, cap, formula injection."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from tests import factories
from tests.tickets.factories import assigned_ticket, make_ticket
from tickets import exports
from tickets.models import Kind, Ticket

pytestmark = pytest.mark.django_db

HEADER = [
    "工单号",
    "类型",
    "状态",
    "故障级别",
    "业务系统",
    "服务商",
    "处理工程师",
    "标题",
    "报障人",
    "报障时间",
    "响应时限",
    "解决时限",
    "响应时间",
    "解决时间",
    "关闭时间",
]


def sheet_of(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"].startswith("attachment;")
    return load_workbook(io.BytesIO(b"".join(response.streaming_content))).active


@pytest.fixture
def desk_client(client):
    client.force_login(factories.desk_agent(username="desk"))
    return client


def test_export_has_the_columns_in_local_time(desk_client):
    vendor = factories.VendorFactory(name="甲服务商")
    reported = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=3)
    ticket = assigned_ticket(vendor=vendor, reported_at=reported, grade=2, requester_name="张伟")

    sheet = sheet_of(desk_client.get(reverse("tickets:export")))

    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == HEADER
    row = dict(zip(HEADER, rows[1], strict=True))
    assert row["工单号"] == ticket.number
    assert row["类型"] == "故障"
    assert row["状态"] == "已派单"
    assert row["服务商"] == "甲服务商"
    assert row["报障人"] == "张伟"
    assert row["报障时间"] == timezone.localtime(reported).replace(tzinfo=None)
    assert row["解决时间"] is None


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        ({"full_name": "钱工程师"}, "钱工程师"),
        ({"full_name": "", "first_name": "Ada", "last_name": "Li"}, "Ada Li"),
        ({"full_name": "", "first_name": "", "last_name": ""}, "eng-login"),
    ],
)
def test_export_names_the_engineer_as_the_pages_do(desk_client, names, shown):
    vendor = factories.VendorFactory()
    engineer = factories.vendor_engineer(vendor, username="eng-login", **names)
    ticket = assigned_ticket(vendor=vendor)
    Ticket.objects.filter(pk=ticket.pk).update(engineer=engineer)

    sheet = sheet_of(desk_client.get(reverse("tickets:export")))

    row = dict(zip(HEADER, next(sheet.iter_rows(min_row=2, values_only=True)), strict=True))
    assert row["处理工程师"] == shown == engineer.display_name
    assert row["故障级别"] == "三级（一周）"


@pytest.mark.parametrize(
    "dangerous",
    ['=HYPERLINK("http://evil.example","点我")', "+1+2", "-2+3", "@SUM(A1:A2)", "\tcmd", "\rx"],
)
def test_formula_like_text_is_written_as_a_string_never_a_formula(desk_client, dangerous):
    make_ticket(title=f"标题{dangerous}", requester_name=dangerous)

    sheet = sheet_of(desk_client.get(reverse("tickets:export")))

    cell = sheet.cell(row=2, column=HEADER.index("报障人") + 1)
    assert cell.data_type == "s"
    # exactly as typed (through lxml even a bare CR survives the round trip)
    assert cell.value == dangerous
    assert cell.quotePrefix  # Excel keeps it text even when someone edits the cell


def test_a_formula_title_stays_text(desk_client):
    make_ticket(title='=cmd|" /C calc"!A0')

    sheet = sheet_of(desk_client.get(reverse("tickets:export")))

    cell = sheet.cell(row=2, column=HEADER.index("标题") + 1)
    assert (cell.data_type, cell.value) == ("s", '=cmd|" /C calc"!A0')


def test_ordinary_text_is_left_alone(desk_client):
    make_ticket(title="系统登录缓慢", requester_name="张伟")

    sheet = sheet_of(desk_client.get(reverse("tickets:export")))

    cell = sheet.cell(row=2, column=HEADER.index("报障人") + 1)
    assert (cell.value, cell.quotePrefix) == ("张伟", False)


def test_export_follows_the_lists_filters_queue_and_search(desk_client):
    hit = make_ticket(title="社保缴费页面白屏")
    make_ticket(title="社保缴费查询慢", kind=Kind.REQUEST)
    make_ticket(title="交换机端口抖动")

    sheet = sheet_of(
        desk_client.get(
            reverse("tickets:export"),
            {"search": "社保缴费", "kind": "incident", "queue": "unassigned"},
        )
    )

    numbers = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert numbers == [hit.number]


def test_requester_exports_only_their_own_tickets(client):
    user = factories.requester(username="req")
    mine = make_ticket(actor=user, kind=Kind.REQUEST)
    make_ticket(kind=Kind.REQUEST)
    client.force_login(user)

    sheet = sheet_of(client.get(reverse("tickets:export")))

    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [mine.number]


def test_export_is_capped_with_a_message(desk_client, monkeypatch):
    system = factories.BusinessSystemFactory()
    for _ in range(4):
        make_ticket(system=system)
    monkeypatch.setattr(exports, "EXPORT_MAX_ROWS", 3)

    response = desk_client.get(reverse("tickets:export"))

    assert response["X-Export-Truncated"] == "1"
    rows = list(sheet_of(response).iter_rows(min_row=2, values_only=True))
    assert len(rows) == 4  # three tickets and the note
    assert "仅导出前 3 行" in rows[-1][0]


def test_export_orders_like_the_list(desk_client):
    now = timezone.now()
    late = make_ticket(reported_at=now - timedelta(hours=1))
    early = make_ticket(reported_at=now - timedelta(hours=4))

    sheet = sheet_of(
        desk_client.get(reverse("tickets:export"), {"sort": "reported_at", "dir": "asc"})
    )

    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        early.number,
        late.number,
    ]
    assert Ticket.objects.count() == 2


def test_anonymous_export_is_sent_to_login(client):
    response = client.get(reverse("tickets:export"))

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
