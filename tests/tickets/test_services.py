"""Ticket lifecycle services: transitions, guards, history, concurrency, permissions."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from directory import roles
from opsdesk.errors import (
    InvalidTransition,
    NotFound,
    NotPermitted,
    StaleVersion,
    ValidationFailed,
)
from sla import services as sla
from sla.selectors import sla_config
from tests import factories
from tests.tickets.factories import (
    accepted_ticket,
    assigned_ticket,
    in_progress_ticket,
    make_ticket,
    resolved_ticket,
)
from tickets import services
from tickets.models import (
    EventAction,
    Kind,
    Status,
    Ticket,
    TicketCounter,
    TicketDispatch,
    TicketEvent,
)
from tickets.services import TicketInput, creation

pytestmark = pytest.mark.django_db


def test_created_ticket_gets_a_readable_number_and_deadlines():
    ticket = make_ticket(kind=Kind.INCIDENT, grade=2)
    year = timezone.localtime(ticket.reported_at).year
    assert ticket.number == f"INC-{year}-000001"
    assert ticket.status == Status.NEW
    assert ticket.response_due is not None
    assert ticket.resolution_due > ticket.response_due


def test_numbers_are_sequential_per_kind():
    first = make_ticket(kind=Kind.REQUEST)
    second = make_ticket(kind=Kind.REQUEST)
    incident = make_ticket(kind=Kind.INCIDENT)
    assert first.number.startswith("REQ-") and first.number.endswith("000001")
    assert second.number.endswith("000002")
    assert incident.number.endswith("000001")


def test_numbers_follow_the_year_the_user_reported_in():
    reported = timezone.now().replace(year=2025, month=12, day=31, hour=10)
    ticket = make_ticket(reported_at=reported)
    assert ticket.number.startswith("INC-2025-")


def test_numbers_grow_past_six_digits_without_being_cut():
    year = timezone.localtime().year
    TicketCounter.objects.create(scope=f"INC-{year}", value=999_998)

    assert make_ticket().number == f"INC-{year}-999999"
    assert make_ticket().number == f"INC-{year}-1000000"


def test_a_rolled_back_create_gives_its_number_back():
    # given a create whose transaction fails after the ticket was inserted
    def create_then_fail():
        with transaction.atomic():
            make_ticket()
            raise RuntimeError("the request failed later")

    with pytest.raises(RuntimeError):
        create_then_fail()

    # then the next ticket gets the number again: committed numbers have no gaps
    assert make_ticket().number.endswith("-000001")
    assert Ticket.objects.count() == 1


@pytest.mark.postgres
def test_concurrent_creates_get_unique_numbers_without_gaps(sla_defaults):
    # given eight desk agents logging calls at the same moment, each on its own connection
    system = factories.BusinessSystemFactory()
    agents = [factories.desk_agent() for _ in range(8)]
    start = threading.Barrier(len(agents))
    numbers, errors = [], []

    def log_calls(agent) -> None:
        try:
            start.wait()
            for _ in range(10):
                numbers.append(make_ticket(actor=agent, system=system).number)
        except Exception as exc:  # reported below: a thread's exception would be lost
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=log_calls, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then the 80 tickets are numbered 1..80, each number once
    assert errors == []
    year = timezone.localtime().year
    assert sorted(numbers) == [f"INC-{year}-{n:06d}" for n in range(1, 81)]
    assert Ticket.objects.filter(number__in=numbers).count() == 80


def test_create_costs_a_fixed_number_of_queries(django_assert_num_queries):
    # given a desk agent whose roles are known (read once per request) and a warm SLA snapshot
    desk = factories.desk_agent()
    system = factories.BusinessSystemFactory()
    roles.roles_of(desk)
    sla_config()

    # then PostgreSQL inserts counter, ticket, event and escalation levels in one statement
    # (between the SAVEPOINT and RELEASE of the test's transaction); SQLite needs four
    expected = 3 if connection.vendor == "postgresql" else 6
    with django_assert_num_queries(expected):
        ticket = services.ticket_create(
            actor=desk, data=TicketInput(title="接口超时", grade=2, system=system)
        )
    assert ticket.events.get().action == EventAction.CREATED
    assert ticket.sla_escalations.exists()


@pytest.mark.postgres
def test_one_statement_create_writes_what_the_portable_path_writes():
    """The PostgreSQL statement and the portable inserts leave the same rows and instance."""
    desk = factories.desk_agent()
    system = factories.BusinessSystemFactory()
    now = timezone.now()
    year = timezone.localtime(now).year

    def new_ticket() -> tuple[Ticket, list]:
        ticket = Ticket(
            kind=Kind.INCIDENT,
            channel="monitoring",
            grade=1,
            title="核心交换机宕机",
            description="第一行\n第二行",
            system=system,
            requester_name="王小明",
            reported_at=now,
            owner=desk,
        )
        sla.sla_ticket_prepare(ticket=ticket)
        return ticket, sla.sla_ticket_opening_levels(ticket=ticket)

    # when one ticket is inserted by each path
    fast, fast_levels = new_ticket()
    creation._insert_new_ticket_postgresql(
        fast, scope=f"INC-{year}", actor=desk, at=now, levels=fast_levels
    )
    slow, slow_levels = new_ticket()
    creation._insert_new_ticket_portable(
        slow, scope=f"INC-{year}", actor=desk, at=now, levels=slow_levels
    )

    # then they are numbered in turn from one counter and stand for their rows
    assert (fast.number, slow.number) == (f"INC-{year}-000001", f"INC-{year}-000002")
    for ticket in (fast, slow):
        assert not ticket._state.adding
        assert ticket._state.db == "default"
        assert ticket.search_text == f"{ticket.number}\n核心交换机宕机\n第一行\n第二行\n王小明"
        stored = Ticket.objects.get(pk=ticket.pk)
        assert stored.search_text == ticket.search_text
        assert stored.created_at == ticket.created_at and stored.updated_at == ticket.updated_at

    # and the rows are the same but for keys, numbers and insert times
    def row(ticket: Ticket) -> dict:
        values = Ticket.objects.filter(pk=ticket.pk).values().get()
        for name in ("id", "number", "search_text", "created_at", "updated_at"):
            values.pop(name)
        return values

    def history(ticket: Ticket) -> list:
        return list(
            ticket.events.values(
                "actor", "action", "at", "from_status", "to_status", "changes", "note"
            )
        )

    def levels(ticket: Ticket) -> set:
        return set(
            ticket.sla_escalations.values_list("metric", "rule", "dispatch", "due_at", "fired_at")
        )

    assert row(fast) == row(slow)
    assert history(fast) == history(slow) != []
    assert levels(fast) == levels(slow) != set()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "  "}, "title"),
        ({"kind": "nonsense"}, "kind"),
        ({"kind": Kind.INCIDENT, "grade": 4}, "grade"),
        ({"kind": Kind.INCIDENT, "grade": None}, "grade"),
        ({"kind": Kind.REQUEST, "grade": 2}, "grade"),
        ({"reported_at": timezone.now() + timedelta(hours=1)}, "reported_at"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_created(fields, field):
    desk = factories.desk_agent()
    data = {"title": "打印机故障", "kind": Kind.INCIDENT, "grade": 3, **fields}
    with pytest.raises(ValidationFailed) as error:
        services.ticket_create(actor=desk, data=TicketInput(**data))
    assert error.value.field == field
    assert not Ticket.objects.exists()


def test_vendor_staff_cannot_create_tickets():
    engineer = factories.vendor_engineer(factories.VendorFactory())
    with pytest.raises(NotPermitted):
        services.ticket_create(actor=engineer, data=TicketInput(title="x", grade=3))


def test_requester_creates_tickets_for_themselves_only():
    me = factories.requester()
    someone = factories.requester()
    ticket = services.ticket_create(
        actor=me, data=TicketInput(title="社保卡查询报错", kind=Kind.REQUEST, requester=someone)
    )
    assert ticket.requester == me


def test_full_lifecycle_records_every_step_in_history():
    vendor = factories.VendorFactory()
    engineer = factories.vendor_engineer(vendor)
    desk = factories.desk_agent()
    ticket = make_ticket(actor=desk)
    services.ticket_assign(actor=desk, ticket_id=ticket.pk, vendor=vendor)
    services.ticket_accept(actor=engineer, ticket_id=ticket.pk)
    services.ticket_start(actor=engineer, ticket_id=ticket.pk)
    services.ticket_pend(actor=engineer, ticket_id=ticket.pk, reason="等待用户提供截图")
    services.ticket_resume(actor=engineer, ticket_id=ticket.pk)
    services.ticket_resolve(actor=engineer, ticket_id=ticket.pk, resolution="清理缓存后恢复")
    ticket = services.ticket_close(actor=desk, ticket_id=ticket.pk)

    actions = list(ticket.events.order_by("id").values_list("action", flat=True))
    assert actions == [
        EventAction.CREATED,
        EventAction.ASSIGNED,
        EventAction.ACCEPTED,
        EventAction.STARTED,
        EventAction.PENDED,
        EventAction.RESUMED,
        EventAction.RESOLVED,
        EventAction.CLOSED,
    ]
    assert ticket.status == Status.CLOSED
    assert ticket.responded_at and ticket.resolved_at and ticket.closed_at
    assert ticket.engineer == engineer
    assigned = ticket.events.get(action=EventAction.ASSIGNED)
    assert assigned.from_status == Status.NEW and assigned.to_status == Status.ASSIGNED
    assert assigned.changes["vendor"] == [None, str(vendor)]


def test_invalid_transition_is_refused_and_changes_nothing():
    ticket = make_ticket()
    desk = factories.desk_agent()
    with pytest.raises(InvalidTransition):
        services.ticket_close(actor=desk, ticket_id=ticket.pk)
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW and ticket.version == 1
    assert ticket.events.count() == 1


def test_vendor_cannot_accept_another_vendors_ticket():
    ticket = assigned_ticket()
    stranger = factories.vendor_engineer(factories.VendorFactory())
    with pytest.raises(NotFound):
        services.ticket_accept(actor=stranger, ticket_id=ticket.pk)


@pytest.mark.parametrize("action", ["assign", "close", "regrade", "cancel"])
def test_vendor_cannot_dispatch_regrade_cancel_or_close(action):
    vendor = factories.VendorFactory()
    engineer = factories.vendor_engineer(vendor)
    ticket = resolved_ticket(vendor=vendor, engineer=engineer)
    calls = {
        "assign": lambda: services.ticket_assign(
            actor=engineer, ticket_id=ticket.pk, vendor=factories.VendorFactory()
        ),
        "close": lambda: services.ticket_close(actor=engineer, ticket_id=ticket.pk),
        "regrade": lambda: services.ticket_regrade(
            actor=engineer, ticket_id=ticket.pk, grade=1, reason="x"
        ),
        "cancel": lambda: services.ticket_cancel(actor=engineer, ticket_id=ticket.pk, reason="x"),
    }
    with pytest.raises(NotPermitted):
        calls[action]()


def test_leader_reads_but_cannot_act():
    ticket = make_ticket()
    with pytest.raises(NotPermitted):
        services.comment_add(actor=factories.leader(), ticket_id=ticket.pk, body="看看")


def test_pend_requires_a_reason():
    ticket = in_progress_ticket()
    with pytest.raises(ValidationFailed) as error:
        services.ticket_pend(actor=factories.desk_agent(), ticket_id=ticket.pk, reason=" ")
    assert error.value.field == "reason"


def test_desk_first_line_resolution_is_recorded_and_counts_as_response():
    ticket = make_ticket()
    ticket = services.ticket_resolve(
        actor=factories.desk_agent(), ticket_id=ticket.pk, resolution="指导用户重置密码"
    )
    assert ticket.first_line_resolution is True
    assert ticket.responded_at == ticket.resolved_at


def test_vendor_cannot_resolve_before_accepting():
    vendor = factories.VendorFactory()
    ticket = assigned_ticket(vendor=vendor)
    with pytest.raises(InvalidTransition):
        services.ticket_resolve(
            actor=factories.vendor_engineer(vendor), ticket_id=ticket.pk, resolution="done"
        )


def test_redispatch_records_both_vendors_and_keeps_one_current_dispatch():
    desk = factories.desk_agent()
    first, second = factories.VendorFactory(), factories.VendorFactory()
    ticket = assigned_ticket(vendor=first, actor=desk)
    ticket = services.ticket_assign(actor=desk, ticket_id=ticket.pk, vendor=second)
    dispatches = TicketDispatch.objects.filter(ticket=ticket).order_by("id")
    assert [d.vendor for d in dispatches] == [first, second]
    assert dispatches[0].ended_at is not None and dispatches[1].ended_at is None
    assert ticket.events.filter(action=EventAction.REASSIGNED).exists()


def test_engineer_must_belong_to_the_vendor():
    desk = factories.desk_agent()
    ticket = make_ticket(actor=desk)
    other_engineer = factories.vendor_engineer(factories.VendorFactory())
    with pytest.raises(ValidationFailed) as error:
        services.ticket_assign(
            actor=desk,
            ticket_id=ticket.pk,
            vendor=factories.VendorFactory(),
            engineer=other_engineer,
        )
    assert error.value.field == "engineer"


def test_regrade_records_who_why_and_old_and_new_grade():
    desk = factories.desk_agent()
    ticket = make_ticket(actor=desk, grade=3)
    old_due = ticket.resolution_due
    ticket = services.ticket_regrade(
        actor=desk, ticket_id=ticket.pk, grade=1, reason="影响全市网办"
    )
    event = ticket.events.get(action=EventAction.REGRADED)
    assert event.actor == desk
    assert event.changes["grade"] == [3, 1]
    assert event.note == "影响全市网办"
    assert ticket.resolution_due < old_due


def test_stale_version_is_refused():
    desk = factories.desk_agent()
    ticket = make_ticket(actor=desk)
    services.ticket_update(
        actor=desk, ticket_id=ticket.pk, changes={"title": "新标题"}, expected_version=1
    )
    with pytest.raises(StaleVersion):
        services.ticket_update(
            actor=desk, ticket_id=ticket.pk, changes={"title": "另一个标题"}, expected_version=1
        )
    ticket.refresh_from_db()
    assert ticket.title == "新标题" and ticket.version == 2


def test_update_records_old_and_new_values_and_refreshes_search():
    desk = factories.desk_agent()
    ticket = make_ticket(actor=desk, title="旧标题")
    services.ticket_update(actor=desk, ticket_id=ticket.pk, changes={"title": "医保结算接口超时"})
    event = TicketEvent.objects.get(ticket=ticket, action=EventAction.UPDATED)
    assert event.changes == {"title": ["旧标题", "医保结算接口超时"]}
    assert list(Ticket.objects.search("结算接口")) == [ticket]


def test_update_rejects_fields_that_need_a_transition():
    desk = factories.desk_agent()
    ticket = make_ticket(actor=desk)
    with pytest.raises(ValidationFailed) as error:
        services.ticket_update(actor=desk, ticket_id=ticket.pk, changes={"status": "closed"})
    assert error.value.field == "status"


def test_reopen_within_window_returns_to_vendor():
    vendor = factories.VendorFactory()
    ticket = resolved_ticket(vendor=vendor)
    ticket = services.ticket_reopen(
        actor=factories.desk_agent(), ticket_id=ticket.pk, reason="问题复现"
    )
    assert ticket.status == Status.IN_PROGRESS
    assert ticket.resolved_at is None


def test_reopen_after_window_is_refused(settings):
    settings.OPSDESK_REOPEN_WINDOW_DAYS = 7
    ticket = resolved_ticket()
    with (
        time_machine.travel(timezone.now() + timedelta(days=8), tick=False),
        pytest.raises(InvalidTransition),
    ):
        services.ticket_reopen(actor=factories.desk_agent(), ticket_id=ticket.pk, reason="x")


def test_requester_confirms_their_own_resolved_ticket():
    me = factories.requester()
    ticket = resolved_ticket(requester=me)
    ticket = services.ticket_close(actor=me, ticket_id=ticket.pk)
    assert ticket.status == Status.CLOSED


def test_requester_cannot_touch_someone_elses_ticket():
    ticket = resolved_ticket(requester=factories.requester())
    with pytest.raises(NotFound):
        services.ticket_close(actor=factories.requester(), ticket_id=ticket.pk)


def test_requester_cannot_write_internal_notes():
    me = factories.requester()
    ticket = make_ticket(requester=me)
    with pytest.raises(NotPermitted):
        services.comment_add(actor=me, ticket_id=ticket.pk, body="内部", internal=True)


def test_cancel_only_before_work_starts():
    desk = factories.desk_agent()
    ticket = accepted_ticket()
    with pytest.raises(InvalidTransition):
        services.ticket_cancel(actor=desk, ticket_id=ticket.pk, reason="重复")
    fresh = make_ticket(actor=desk)
    fresh = services.ticket_cancel(actor=desk, ticket_id=fresh.pk, reason="重复来电")
    assert fresh.status == Status.CANCELLED and fresh.cancel_reason == "重复来电"


def test_allowed_actions_follow_role_and_state():
    vendor = factories.VendorFactory()
    engineer = factories.vendor_engineer(vendor)
    ticket = assigned_ticket(vendor=vendor)
    assert services.allowed_actions(engineer, ticket) == [
        "accept",
        "attach",
        "comment",
        "comment_internal",
    ]
    assert "assign" in services.allowed_actions(factories.desk_agent(), ticket)
    assert services.allowed_actions(factories.leader(), ticket) == []


def test_log_call_creates_and_dispatches_in_one_step():
    vendor = factories.VendorFactory()
    ticket = services.ticket_log_call(
        actor=factories.desk_agent(),
        data=TicketInput(title="网办大厅无法登录", grade=1, channel="phone"),
        vendor=vendor,
    )
    assert ticket.status == Status.ASSIGNED and ticket.vendor == vendor


def test_search_finds_chinese_substrings_in_title_description_and_number():
    hit = make_ticket(title="社保缴费页面报错", description="用户反馈提交后白屏")
    make_ticket(title="打印机卡纸")
    assert list(Ticket.objects.search("缴费页")) == [hit]
    assert list(Ticket.objects.search("白屏")) == [hit]
    assert list(Ticket.objects.search(hit.number.lower())) == [hit]
    assert list(Ticket.objects.search("100%")) == []


def test_resolved_ticket_closes_itself_after_three_working_days(settings):
    # Given a ticket resolved on Thursday 2026-09-24, just before the Mid-Autumn holiday
    # (Fri 09-25 is a statutory holiday, then the weekend)
    settings.OPSDESK_AUTO_CLOSE_WORKING_DAYS = 3
    shanghai = timezone.get_default_timezone()
    with time_machine.travel(timezone.datetime(2026, 9, 24, 10, 0, tzinfo=shanghai), tick=False):
        ticket = resolved_ticket()
    # When the sweep runs on Wednesday 09-30: only Mon 28 and Tue 29 have fully passed
    wednesday = timezone.datetime(2026, 9, 30, 9, 0, tzinfo=shanghai)
    assert services.tickets_auto_close(now=wednesday) == 0
    # Then on Thursday 10-01 Mon, Tue and Wed have passed: it closes, without an actor
    thursday = timezone.datetime(2026, 10, 1, 9, 0, tzinfo=shanghai)
    assert services.tickets_auto_close(now=thursday) == 1
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    closing = ticket.events.get(action=EventAction.CLOSED)
    assert closing.actor is None
    assert "自动关闭" in closing.note


def test_auto_close_skips_tickets_reopened_meanwhile():
    ticket = resolved_ticket()
    services.ticket_reopen(actor=factories.desk_agent(), ticket_id=ticket.pk, reason="复现")
    assert services.ticket_auto_close(ticket_id=ticket.pk, now=timezone.now()) is False


def test_desk_marks_a_duplicate_and_it_is_recorded():
    desk = factories.desk_agent()
    original = make_ticket(actor=desk)
    repeat = make_ticket(actor=desk)
    repeat = services.ticket_link(
        actor=desk, ticket_id=repeat.pk, target_id=original.pk, kind="duplicate_of"
    )
    assert repeat.duplicate_of == original
    event = repeat.events.get(action=EventAction.LINKED)
    assert event.changes["duplicate_of"] == [None, str(original)]


def test_two_tickets_cannot_duplicate_each_other():
    desk = factories.desk_agent()
    first, second = make_ticket(actor=desk), make_ticket(actor=desk)
    services.ticket_link(actor=desk, ticket_id=first.pk, target_id=second.pk, kind="duplicate_of")
    with pytest.raises(ValidationFailed):
        services.ticket_link(
            actor=desk, ticket_id=second.pk, target_id=first.pk, kind="duplicate_of"
        )


def test_related_and_caused_by_links_are_unique_per_pair():
    desk = factories.desk_agent()
    outage, symptom = make_ticket(actor=desk), make_ticket(actor=desk)
    services.ticket_link(actor=desk, ticket_id=symptom.pk, target_id=outage.pk, kind="caused_by")
    assert symptom.links_out.get().target == outage
    with pytest.raises(InvalidTransition):
        services.ticket_link(
            actor=desk, ticket_id=symptom.pk, target_id=outage.pk, kind="caused_by"
        )


def test_linking_to_self_or_unknown_kind_is_refused():
    desk = factories.desk_agent()
    ticket = make_ticket(actor=desk)
    other = make_ticket(actor=desk)
    with pytest.raises(ValidationFailed):
        services.ticket_link(actor=desk, ticket_id=ticket.pk, target_id=ticket.pk, kind="related")
    with pytest.raises(ValidationFailed):
        services.ticket_link(actor=desk, ticket_id=ticket.pk, target_id=other.pk, kind="blocks")


def test_vendor_cannot_link_and_cannot_learn_of_invisible_targets():
    vendor = factories.VendorFactory()
    engineer = factories.vendor_engineer(vendor)
    mine = assigned_ticket(vendor=vendor)
    hidden = make_ticket()
    with pytest.raises(NotFound):
        services.ticket_link(actor=engineer, ticket_id=mine.pk, target_id=hidden.pk, kind="related")
