"""Retention: the nightly purge of old notifications and finished deliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import services
from notifications.models import Delivery, DeliveryStatus, Notification
from notifications.services import PurgeResult, notifications_purge
from tests.factories import UserFactory
from tests.notifications.factories import DeliveryFactory, NotificationFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 19, 30, tzinfo=UTC)  # 03:30 in Asia/Shanghai


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def notification(*, created: float, read: float | None = None, **fields) -> Notification:
    """A notification created ``created`` days before NOW and read ``read`` days before (or not)."""
    return NotificationFactory(
        created_at=days_ago(created),
        read_at=None if read is None else days_ago(read),
        **fields,
    )


@pytest.fixture(autouse=True)
def _default_retention(settings):
    # The documented defaults, whatever the environment running the suite says.
    settings.OPSDESK_NOTIFICATION_RETENTION_DAYS = 90
    settings.OPSDESK_NOTIFICATION_MAX_AGE_DAYS = 365


def test_a_notification_read_longer_ago_than_the_retention_is_deleted_with_its_deliveries():
    # Given a notification read 91 days ago, whose e-mail and robot message went out
    old = notification(created=120, read=91)
    DeliveryFactory(notification=old, sent=True)
    DeliveryFactory(notification=old, failed=True)

    # When the purge runs
    result = notifications_purge(now=NOW)

    # Then the notification and both deliveries are gone
    assert result == PurgeResult(notifications=1, deliveries=2)
    assert not Notification.objects.exists()
    assert not Delivery.objects.exists()


def test_a_notification_read_within_the_retention_is_kept():
    # Given a notification created long ago but read only 89 days ago
    recent = notification(created=200, read=89)

    # When the purge runs
    result = notifications_purge(now=NOW)

    # Then it stays
    assert result.notifications == 0
    assert list(Notification.objects.all()) == [recent]


def test_an_unread_notification_is_kept_until_the_max_age():
    # Given unread notifications 364 and 366 days old, and a read one past the max age
    young = notification(created=364)
    notification(created=366)
    notification(created=400, read=1)

    # When the purge runs
    result = notifications_purge(now=NOW)

    # Then only the one within the max age is left: unread is no reason to keep it forever
    assert result.notifications == 2
    assert list(Notification.objects.all()) == [young]


def test_retention_follows_the_settings(settings):
    # Given a 30-day retention and a 60-day max age
    settings.OPSDESK_NOTIFICATION_RETENTION_DAYS = 30
    settings.OPSDESK_NOTIFICATION_MAX_AGE_DAYS = 60
    kept = [notification(created=40, read=29), notification(created=59)]
    notification(created=40, read=31)
    notification(created=61)

    # When the purge runs
    result = notifications_purge(now=NOW)

    # Then the shorter limits apply
    assert result.notifications == 2
    assert set(Notification.objects.all()) == set(kept)


@pytest.mark.parametrize("days", [0, -1])
def test_a_retention_below_one_day_is_refused_before_deleting_anything(settings, days):
    # Given a misconfigured retention that would delete what was read a moment ago
    settings.OPSDESK_NOTIFICATION_RETENTION_DAYS = days
    notification(created=1, read=0.5)
    DeliveryFactory(notification=None, sent=True, created_at=days_ago(1))

    # When the purge runs, then it refuses, naming the variable, and deletes nothing
    with pytest.raises(ImproperlyConfigured, match="OPSDESK_NOTIFICATION_RETENTION_DAYS"):
        notifications_purge(now=NOW)
    assert Notification.objects.count() == 1
    assert Delivery.objects.count() == 1


@pytest.mark.parametrize("trait", ["sent", "failed"])
def test_a_finished_delivery_past_the_retention_is_deleted_even_if_its_notification_stays(trait):
    # Given an unread notification 100 days old, whose e-mail finished 100 days ago,
    # and a robot test message (no notification) of the same age
    unread = notification(created=100)
    DeliveryFactory(notification=unread, **{trait: True})
    DeliveryFactory(notification=None, created_at=days_ago(100), **{trait: True})

    # When the purge runs
    result = notifications_purge(now=NOW)

    # Then both deliveries are gone, and the unread notification is not
    assert result == PurgeResult(notifications=0, deliveries=2)
    assert not Delivery.objects.exists()
    assert list(Notification.objects.all()) == [unread]


def test_a_finished_delivery_within_the_retention_is_kept():
    # Given a robot message sent 89 days ago
    delivery = DeliveryFactory(notification=None, sent=True, created_at=days_ago(89))

    # When the purge runs, then it stays
    assert notifications_purge(now=NOW).deliveries == 0
    assert list(Delivery.objects.all()) == [delivery]


@pytest.mark.parametrize(
    "state",
    [{}, {"retrying": True}, {"sending": True}],
    ids=["pending", "retrying", "sending"],
)
def test_an_unfinished_delivery_and_its_notification_are_kept(state):
    # Given a notification past both limits whose e-mail is still pending, waiting for a retry
    # or being sent (created long ago: e.g. requeued by the admin), next to a finished one
    old = notification(created=400, read=200)
    unfinished = DeliveryFactory(notification=old, **state)
    DeliveryFactory(notification=old, sent=True)

    # When the purge runs
    result = notifications_purge(now=NOW)

    # Then the unfinished delivery keeps its notification (the worker still needs both);
    # the finished delivery goes
    assert result == PurgeResult(notifications=0, deliveries=1)
    assert list(Notification.objects.all()) == [old]
    assert list(Delivery.objects.all()) == [unfinished]


def test_a_second_run_deletes_nothing():
    # Given a purge that already ran
    DeliveryFactory(notification=notification(created=120, read=100), sent=True)
    notifications_purge(now=NOW)

    # When it runs again at the same time, then nothing more is deleted
    assert notifications_purge(now=NOW) == PurgeResult(notifications=0, deliveries=0)


def _deletes_from(queries: CaptureQueriesContext, model) -> int:
    statement = f'DELETE FROM "{model._meta.db_table}"'
    return sum(1 for query in queries if query["sql"].startswith(statement))


def test_the_purge_deletes_in_batches_and_reaches_every_row(monkeypatch):
    # Given batches of 2, five expired notifications with a sent e-mail each, five old robot
    # messages, and rows to keep mixed in between (ids interleaved)
    monkeypatch.setattr(services, "PURGE_BATCH_SIZE", 2)
    kept = []
    for _ in range(5):
        DeliveryFactory(notification=notification(created=120, read=100), sent=True)
        DeliveryFactory(notification=None, sent=True, created_at=days_ago(120))
        kept.append(notification(created=120, read=10))
    DeliveryFactory(notification=kept[0], retrying=True, created_at=days_ago(120))

    # When the purge runs
    with CaptureQueriesContext(connection) as queries:
        result = notifications_purge(now=NOW)

    # Then every expired row is gone and every other row is left
    assert result == PurgeResult(notifications=5, deliveries=10)
    assert set(Notification.objects.all()) == set(kept)
    assert list(Delivery.objects.values_list("status", flat=True)) == [DeliveryStatus.PENDING]
    # And no DELETE took more than two ids: 10 old deliveries in 5 batches, 5 notifications in 3
    assert _deletes_from(queries, Notification) == 3
    assert _deletes_from(queries, Delivery) == 5 + 3
    # each batch in a transaction of its own (savepoints here, inside the test's transaction)
    assert sum(1 for q in queries if q["sql"].startswith("SAVEPOINT")) == 5 + 3


def _purge_queries(count: int) -> int:
    # Deliveries of the notifications read 100 days ago, and robot messages on their own.
    user = UserFactory()
    for _ in range(count):
        read = notification(created=120, read=100, recipient=user)
        DeliveryFactory(notification=read, sent=True)
        DeliveryFactory(notification=None, failed=True, created_at=days_ago(120))
    with CaptureQueriesContext(connection) as queries:
        result = notifications_purge(now=NOW)
    assert result == PurgeResult(notifications=count, deliveries=2 * count)
    return len(queries)


def test_the_purge_costs_the_same_queries_for_1_or_150_rows_in_one_batch():
    # When one, and then 150 notifications (and 300 deliveries) are purged in one batch each
    one, many = _purge_queries(1), _purge_queries(150)

    # Then both cost the same: per phase, one SELECT of ids and one transaction of DELETEs
    # (Django's cascading delete() would have loaded the rows and deleted 100 ids at a time)
    assert one == many
    # deliveries: SELECT ids, SAVEPOINT, DELETE, RELEASE;
    # notifications: SELECT ids, SAVEPOINT, DELETE deliveries, DELETE notifications, RELEASE
    assert one == 9
