"""The escalation sweep: who is told what, once, and at a fixed query cost.

Fixture timeline (default rules, grade-2 fault reported Monday 2026-03-09 09:00 on cn-gov):
response due 09:30 — 50% at 09:15, 80% at 09:24; resolution due 15:00 — 50% at 11:00.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import Notification
from sla.models import EscalationRule, EscalationSchedule, Metric
from sla.services import escalation, escalation_rule_saved, escalation_sweep, sla_config_changed
from tests import factories
from tests.sla.factories import accept, assign, at, create_ticket, pend
from tickets.models import Kind

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    vendor = factories.VendorFactory()
    return {
        "vendor": vendor,
        "desk": factories.desk_agent(),
        "other_desk": factories.desk_agent(),
        "engineer": factories.vendor_engineer(vendor),
        "manager": factories.vendor_manager(vendor),
        "other_manager": factories.vendor_manager(factories.VendorFactory()),
        "supervisor": factories.desk_supervisor(),
        "leader": factories.leader(),
    }


def dispatched(people, *, grade=2, reported_at=None):
    reported_at = reported_at or at(2026, 3, 9, 9, 0)
    ticket = create_ticket(reported_at=reported_at, grade=grade, actor=people["desk"])
    return assign(
        ticket,
        people["vendor"],
        when=reported_at,
        actor=people["desk"],
        engineer=people["engineer"],
    )


def received(user) -> list[str]:
    return list(Notification.objects.filter(recipient=user).values_list("title", flat=True))


def test_crossing_half_the_response_time_tells_the_engineer_once(people):
    ticket = dispatched(people)
    # when the sweep runs just after 50% of the response time, twice
    assert escalation_sweep(now=at(2026, 3, 9, 9, 16)) == 1
    assert escalation_sweep(now=at(2026, 3, 9, 9, 17)) == 0
    # then the engineer got one warning, and nobody else anything
    assert received(people["engineer"]) == [f"【SLA预警】{ticket.number} 响应时限已过 50%"]
    assert Notification.objects.count() == 1
    notification = Notification.objects.get()
    assert notification.ticket == ticket
    assert notification.kind == "escalation"
    assert "2026-03-09 09:30" in notification.body


def test_eighty_percent_tells_the_vendor_manager_and_the_desk_owner(people):
    ticket = dispatched(people)
    escalation_sweep(now=at(2026, 3, 9, 9, 25))
    expected = f"【SLA预警】{ticket.number} 响应时限已过 80%"
    assert received(people["manager"]) == [expected]
    assert received(people["desk"]) == [expected]  # the owner, not the whole desk
    assert received(people["other_desk"]) == []
    assert received(people["other_manager"]) == []
    assert len(received(people["engineer"])) == 1  # the 50% level, fired in the same sweep


def test_desk_level_goes_to_every_desk_agent_when_the_ticket_has_no_owner(people):
    requester = factories.requester()
    ticket = create_ticket(reported_at=at(2026, 3, 9, 9, 0), grade=2, actor=requester)
    assert ticket.owner is None
    escalation_sweep(now=at(2026, 3, 9, 9, 25))
    assert len(received(people["desk"])) == 1
    assert len(received(people["other_desk"])) == 1


def test_breach_tells_the_supervisor_and_the_centre_leader(people):
    ticket = dispatched(people)
    escalation_sweep(now=at(2026, 3, 9, 9, 31))
    breach = f"【SLA超时】{ticket.number} 已超过响应时限"
    assert received(people["supervisor"]) == [breach]
    assert received(people["leader"]) == [breach]


def test_grade_1_creation_tells_the_supervisor_and_leader_without_waiting_for_the_sweep(people):
    ticket = create_ticket(reported_at=at(2026, 3, 9, 9, 0), grade=1, actor=people["desk"])
    notice = f"【一级故障】{ticket.number} 网办大厅无法登录"
    assert received(people["supervisor"]) == [notice]
    assert received(people["leader"]) == [notice]
    assert Notification.objects.get(recipient=people["leader"]).kind == "grade1_created"
    # and the sweep does not send it again
    assert escalation_sweep(now=at(2026, 3, 9, 9, 1)) == 0
    assert len(received(people["leader"])) == 1


def test_responded_levels_do_not_fire(people):
    ticket = dispatched(people)
    accept(ticket, people["engineer"], when=at(2026, 3, 9, 9, 10))
    escalation_sweep(now=at(2026, 3, 9, 10, 0))
    assert Notification.objects.count() == 0


def test_sweep_fires_nothing_for_a_paused_ticket(people):
    ticket = dispatched(people)
    ticket = accept(ticket, people["engineer"], when=at(2026, 3, 9, 9, 10))
    pend(ticket, people["engineer"], when=at(2026, 3, 9, 9, 20))
    # long after every resolution level would have been due
    assert escalation_sweep(now=at(2026, 3, 12, 9, 0)) == 0
    assert Notification.objects.count() == 0


def test_levels_fire_in_batches_until_none_is_due(people, monkeypatch):
    monkeypatch.setattr(escalation, "SWEEP_BATCH_SIZE", 2)
    monkeypatch.setattr(escalation, "PORTABLE_BATCH_SIZE", 2)
    tickets = [dispatched(people) for _ in range(3)]
    # 3 tickets × (50%, 80%, 100%) of the response time
    assert escalation_sweep(now=at(2026, 3, 9, 9, 31)) == 9
    fired = EscalationSchedule.objects.filter(
        ticket__in=tickets, metric=Metric.RESPONSE, fired_at=at(2026, 3, 9, 9, 31)
    )
    assert fired.count() == 9
    assert Notification.objects.count() == 3 * 5


def test_sweep_query_count_does_not_grow_with_the_number_of_crossing_tickets(people):
    # Only the 50% level (one notification each): SQLite splits bulk INSERTs of more than
    # 999 parameters, which would count the notifications app's chunks, not the sweep's work.
    def queries_for(count: int, hour: int) -> int:
        EscalationSchedule.objects.all().delete()  # only this round's tickets are due
        for _ in range(count):
            dispatched(people, reported_at=at(2026, 3, 10, hour, 0))
        with CaptureQueriesContext(connection) as captured:
            fired = escalation_sweep(now=at(2026, 3, 10, hour, 16))
        assert fired == count
        return len(captured)

    assert queries_for(5, 9) == queries_for(50, 10)


def test_vendor_clock_levels_tell_the_current_vendors_manager(people):
    EscalationRule.objects.create(
        name="服务商响应超时",
        metric=Metric.VENDOR_RESPONSE,
        fraction=Decimal("1"),
        notify_vendor_manager=True,
    )
    sla_config_changed()
    ticket = dispatched(people)
    accept(ticket, people["engineer"], when=at(2026, 3, 9, 9, 10))
    second = factories.VendorFactory()
    second_manager = factories.vendor_manager(second)
    assign(ticket, second, when=at(2026, 3, 9, 10, 0), actor=people["desk"])
    # the new vendor's deadline is 10:30; the ticket itself was answered at 09:10
    escalation_sweep(now=at(2026, 3, 9, 10, 31))
    assert received(second_manager) == [f"【SLA超时】{ticket.number} 已超过服务商响应时限"]
    assert received(people["manager"]) == []


def test_deactivating_a_rule_cancels_its_pending_levels(people):
    dispatched(people)
    rule = EscalationRule.objects.get(metric=Metric.RESPONSE, fraction=Decimal("0.5"))
    rule.is_active = False
    rule.save()
    assert escalation_rule_saved(rule=rule) == 1
    escalation_sweep(now=at(2026, 3, 9, 9, 20))
    assert received(people["engineer"]) == []


def test_task_breach_fires_at_the_desks_due_date(people):
    ticket = create_ticket(
        reported_at=at(2026, 3, 9, 9, 0),
        kind=Kind.TASK,
        resolution_due=at(2026, 3, 9, 19, 0),
        actor=people["desk"],
    )
    assert escalation_sweep(now=at(2026, 3, 9, 18, 59)) == 2  # 50% at 14:00, 80% at 17:00
    escalation_sweep(now=at(2026, 3, 9, 19, 0))
    assert received(people["leader"]) == [f"【SLA超时】{ticket.number} 已超过解决时限"]


def test_a_mass_event_sends_one_digest_per_recipient_instead_of_a_flood(people):
    # given 12 tickets of the same engineer that all breach their response time at once
    tickets = [dispatched(people) for _ in range(12)]
    other_engineer = factories.vendor_engineer(people["vendor"])
    lone = create_ticket(reported_at=at(2026, 3, 9, 9, 0), grade=2, actor=people["other_desk"])
    assign(lone, people["vendor"], when=at(2026, 3, 9, 9, 0), engineer=other_engineer)
    # when one sweep fires them
    assert escalation_sweep(now=at(2026, 3, 9, 9, 31)) == 13 * 3
    # then each recipient gets one digest per level, listing the tickets
    breach = Notification.objects.get(recipient=people["leader"])
    assert breach.title == "【SLA超时】13 张工单已超过响应时限"
    assert breach.ticket is None
    assert all(ticket.number in breach.body for ticket in [*tickets, lone])
    assert received(people["engineer"]) == ["【SLA预警】12 张工单响应时限已过 50%"]
    # while a recipient with few tickets still gets one notification per ticket
    assert received(other_engineer) == [f"【SLA预警】{lone.number} 响应时限已过 50%"]
    assert Notification.objects.get(recipient=other_engineer).ticket == lone


def _claim_both_ways(*, now, ticket_id=None) -> tuple[list, list]:
    """What each claim statement returns on the same rows (each rolled back afterwards)."""
    from django.db import transaction

    results = []
    for claim in (escalation._claim_postgresql, escalation._claim_portable):
        with transaction.atomic():
            sid = transaction.savepoint()
            rows, _more = claim(now=now, ticket_id=ticket_id)
            results.append(sorted(tuple(row) for row in rows))
            transaction.savepoint_rollback(sid)
    return results[0], results[1]


@pytest.mark.postgres
def test_the_portable_claim_the_embedded_demo_runs_returns_what_the_postgresql_one_does(people):
    # SQLite (python3 dev.py run) claims levels with the portable statement; CI runs on
    # PostgreSQL, so the two are compared here, on the same rows: groups of one recipient
    # set (digests), singles, a re-dispatched ticket, and one ticket claimed on its own.
    many = [dispatched(people) for _ in range(escalation.DIGEST_LISTED + 2)]
    other_engineer = factories.vendor_engineer(people["vendor"])
    lone = create_ticket(reported_at=at(2026, 3, 9, 9, 0), grade=1, actor=people["other_desk"])
    assign(lone, people["vendor"], when=at(2026, 3, 9, 9, 0), engineer=other_engineer)
    moved = dispatched(people, grade=3)
    assign(moved, factories.VendorFactory(), when=at(2026, 3, 9, 9, 5), actor=people["desk"])
    now = at(2026, 3, 9, 11, 0)

    postgresql, portable = _claim_both_ways(now=now)
    one_pg, one_portable = _claim_both_ways(now=now, ticket_id=lone.pk)

    def by_group(rows):  # (rule, engineer, owner, vendor, group size) -> its sample rows
        groups = {}
        for row in rows:
            groups.setdefault((row[1], *row[4:7], row[11]), []).append(row)
        return groups

    pg_groups, portable_groups = by_group(postgresql), by_group(portable)
    assert pg_groups.keys() == portable_groups.keys()
    for key, rows in pg_groups.items():
        size = key[-1]
        assert len(rows) == len(portable_groups[key]) == min(size, escalation.DIGEST_LISTED)
        if size <= escalation.DIGEST_LISTED:  # which samples a digest lists is arbitrary
            assert rows == portable_groups[key]
    assert max(key[-1] for key in pg_groups) == len(many)
    assert {row[0] for row in postgresql} >= {lone.pk, moved.pk}
    assert one_pg == one_portable
    assert {row[0] for row in one_pg} == {lone.pk}
