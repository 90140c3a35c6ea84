"""Escalation with a real Celery worker on Redis and PostgreSQL: concurrency and crashes.

To catch sweeps in the middle of a batch, the test holds an EXCLUSIVE lock on the
notifications table from a second connection: a sweep then claims its levels (UPDATE …
fired_at) and blocks on inserting their notifications, with its transaction open.
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from notifications.models import Notification
from sla.models import EscalationSchedule
from sla.tasks import escalation_sweep_task
from tests import factories
from tests.sla.factories import assign, create_ticket, travel

# Few enough that nobody gets more than DIGEST_AFTER levels at once: one notification each.
TICKETS = 8
# Per ticket, response and resolution: 50% engineer, 80% manager + desk owner, 100% supervisor
# + leader.
NOTICES_PER_TICKET = 2 * (1 + 2 + 2)
LEVELS_PER_TICKET = 6


def wait_until(predicate, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def overdue_tickets(count: int) -> list:
    """Grade-2 faults reported 30 days ago: every response and resolution level is due."""
    vendor = factories.VendorFactory()
    desk = factories.desk_agent(email="")
    engineer = factories.vendor_engineer(vendor, email="")
    factories.vendor_manager(vendor, email="")
    factories.desk_supervisor(email="")
    factories.leader(email="")
    reported_at = timezone.now() - timedelta(days=30)
    tickets = []
    for _ in range(count):
        ticket = create_ticket(reported_at=reported_at, grade=2, actor=desk)
        tickets.append(assign(ticket, vendor, when=reported_at, actor=desk, engineer=engineer))
    assert unfired() == count * LEVELS_PER_TICKET
    return tickets


def unfired() -> int:
    return EscalationSchedule.objects.filter(fired_at__isnull=True).count()


def _connect() -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
    )


@contextmanager
def notifications_locked():
    """Hold an EXCLUSIVE lock on the notifications table until the block ends."""
    with _connect() as locker:
        locker.execute(f"LOCK TABLE {Notification._meta.db_table} IN EXCLUSIVE MODE")
        yield
        locker.rollback()


def blocked_worker_statements(pattern: str) -> list[int]:
    """Backend pids of worker statements matching ``pattern`` that wait for a lock now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE %s",
            [pattern],
        )
        return [row[0] for row in cursor.fetchall()]


def sweeps_inserting() -> list[int]:
    """Sweeps that claimed their levels and wait to insert the notifications."""
    return blocked_worker_statements(f'%INSERT INTO "{Notification._meta.db_table}"%')


def sweeps_waiting_for_claimed_levels() -> list[int]:
    """Sweeps whose claiming UPDATE waits for levels another sweep holds."""
    return blocked_worker_statements(f"%UPDATE {EscalationSchedule._meta.db_table} SET fired_at%")


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def assert_each_level_notified_once(tickets) -> None:
    rows = Notification.objects.values_list("ticket_id", "recipient_id", "title")
    counts = Counter(rows)
    assert [row for row, seen in counts.items() if seen > 1] == []
    assert len(counts) == len(tickets) * NOTICES_PER_TICKET
    assert (
        EscalationSchedule.objects.filter(fired_at__isnull=False).count()
        == len(tickets) * LEVELS_PER_TICKET
    )


@pytest.mark.redis
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_fire_each_level_exactly_once(celery_worker_process, sla_defaults):
    tickets = overdue_tickets(TICKETS)
    celery_worker_process.start()
    with notifications_locked():
        # when two sweeps run at once (two beats by mistake, or a redelivered task)
        escalation_sweep_task.delay()
        escalation_sweep_task.delay()
        # one has claimed every level, the other is in the middle of claiming the same ones
        assert wait_until(
            lambda: len(sweeps_inserting()) == 1 and len(sweeps_waiting_for_claimed_levels()) == 1
        ), celery_worker_process.log()
    # then every level fires, each exactly once
    assert wait_until(lambda: unfired() == 0), celery_worker_process.log()
    assert_each_level_notified_once(tickets)


@pytest.mark.redis
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_sweep_killed_mid_batch_loses_and_duplicates_nothing(celery_worker_process, sla_defaults):
    tickets = overdue_tickets(TICKETS)
    celery_worker_process.start()
    with notifications_locked():
        escalation_sweep_task.delay()
        assert wait_until(lambda: len(sweeps_inserting()) == 1), celery_worker_process.log()
        [sweep] = sweeps_inserting()
        # when the worker dies with a claimed batch and an unacknowledged message
        celery_worker_process.kill()
    # then its transaction rolls back once PostgreSQL notices the client is gone
    assert wait_until(lambda: not backend_alive(sweep))
    assert unfired() == len(tickets) * LEVELS_PER_TICKET
    assert Notification.objects.count() == 0

    # when a worker is back and beat runs the next sweep
    celery_worker_process.start()
    escalation_sweep_task.delay()
    # then every level fires exactly once (also if the lost message is redelivered)
    assert wait_until(lambda: unfired() == 0), celery_worker_process.log()
    escalation_sweep_task.delay()
    time.sleep(1)
    assert_each_level_notified_once(tickets)


@pytest.mark.django_db
def test_ticket_creation_does_not_wait_for_a_dead_broker(
    dead_broker, django_capture_on_commit_callbacks
):
    supervisor = factories.desk_supervisor()
    began = time.monotonic()
    # a grade-1 fault notifies at once: notifications and their e-mails are queued on commit
    with travel(timezone.now()), django_capture_on_commit_callbacks(execute=True):
        ticket = create_ticket(reported_at=timezone.now(), grade=1)
    elapsed = time.monotonic() - began
    assert elapsed < 5
    assert ticket.response_due is not None and ticket.resolution_due is not None
    assert Notification.objects.filter(recipient=supervisor, ticket=ticket).exists()
