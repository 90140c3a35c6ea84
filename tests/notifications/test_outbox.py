"""The outbox end to end: a dead broker never blocks a commit; a real worker catches up."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from notifications.models import Delivery, DeliveryStatus, Notification
from notifications.services import notifications_create_bulk
from tests.factories import UserFactory
from tests.notifications.factories import WebhookEndpointFactory, draft

# Creating a ticket must stay fast with the broker gone; generous for slow CI machines.
PUBLISH_BUDGET_SECONDS = 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", ["refusing", "silent"])
def test_a_commit_with_the_broker_down_returns_quickly_and_leaves_the_outbox_pending(
    broker, broker_url, silent_broker, caplog
):
    # Given a broker that refuses connections, or one that accepts and never answers
    broker_url("redis://127.0.0.1:1/0" if broker == "refusing" else silent_broker)
    WebhookEndpointFactory()
    users = UserFactory.create_batch(3)

    # When notifications are created in a transaction that commits
    started = time.monotonic()
    with (
        caplog.at_level(logging.WARNING, logger="notifications.services"),
        transaction.atomic(),
    ):
        notifications_create_bulk(rows=[draft(user) for user in users])
    elapsed = time.monotonic() - started

    # Then the commit returned within the budget, without raising
    assert elapsed < PUBLISH_BUDGET_SECONDS, elapsed
    assert Notification.objects.count() == 3
    # And every delivery waits in the outbox, untouched, for the sweep
    deliveries = Delivery.objects.all()
    assert deliveries.count() == 4  # three e-mails, one robot message
    assert {(d.status, d.attempts) for d in deliveries} == {(DeliveryStatus.PENDING, 0)}
    assert "left for the outbox sweep" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_queues_nothing(broker_url, caplog):
    # Given a broker that would log a warning if anyone tried to publish
    broker_url("redis://127.0.0.1:1/0")

    user = UserFactory()

    def create_ticket_that_fails_validation():
        with transaction.atomic():
            notifications_create_bulk(rows=[draft(user)])
            raise RuntimeError("ticket validation failed")

    # When the caller's transaction rolls back after creating notifications
    with pytest.raises(RuntimeError):
        create_ticket_that_fails_validation()

    # Then no row survives and no publish was attempted
    assert not Notification.objects.exists()
    assert not Delivery.objects.exists()
    assert "outbox" not in caplog.text


def _wait_until(predicate, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


@pytest.mark.redis
@pytest.mark.celery_worker
def test_a_real_worker_delivers_an_escalation_to_the_robot(celery_worker_process, receiver):
    # Given a running worker and a WeCom robot
    celery_worker_process.start()
    WebhookEndpointFactory(url=receiver.url + "/cgi-bin/webhook/send?key=k")
    users = UserFactory.create_batch(2, email="")

    # When an escalation for two people commits
    with transaction.atomic():
        notifications_create_bulk(rows=[draft(user) for user in users])

    # Then the worker posts one message to the robot and records it as sent
    requests = receiver.wait_for(1)
    assert len(requests) == 1, celery_worker_process.log()
    assert requests[0].json["text"]["content"].startswith("【INC-2026-000001 超时升级】")
    delivery = Delivery.objects.get()
    assert _wait_until(
        lambda: Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENT).exists()
    ), celery_worker_process.log()


@pytest.mark.redis
@pytest.mark.celery_worker
def test_escalations_missed_while_the_broker_was_down_are_sent_by_the_sweep(
    celery_worker_process, receiver, broker_url
):
    # Given an escalation committed while the broker was unreachable
    WebhookEndpointFactory(url=receiver.url + "/cgi-bin/webhook/send?key=k")
    broker_url("redis://127.0.0.1:1/0")
    with transaction.atomic():
        notifications_create_bulk(rows=[draft(UserFactory(email=""))])
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING

    # When the broker and a worker are back, and beat runs the sweep a few minutes later
    broker_url(None)
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    celery_worker_process.start()
    from notifications.tasks import sweep_deliveries

    sweep_deliveries.delay()

    # Then the worker sends the missed escalation exactly once
    requests = receiver.wait_for(1)
    assert len(requests) == 1, celery_worker_process.log()
    assert _wait_until(
        lambda: Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENT).exists()
    ), celery_worker_process.log()
    time.sleep(1)
    assert len(receiver.requests) == 1
