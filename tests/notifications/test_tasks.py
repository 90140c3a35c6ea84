"""The Celery side of retention: the task and its place in beat's schedule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.schedules import crontab
from django.utils import timezone

from notifications import tasks
from notifications.models import Delivery, Notification
from opsdesk.celery import app as celery_app
from tests.notifications.factories import DeliveryFactory, NotificationFactory


@pytest.mark.django_db
def test_the_purge_task_deletes_what_has_passed_the_retention_by_now(settings, time_machine):
    # Given the default retention and a notification read (and its e-mail sent) today
    settings.OPSDESK_NOTIFICATION_RETENTION_DAYS = 90
    time_machine.move_to(timezone.now(), tick=False)
    read = NotificationFactory(read_at=timezone.now())
    DeliveryFactory(notification=read, sent=True)

    # When the task runs 89 days later, then both are still there
    time_machine.shift(timedelta(days=89))
    tasks.purge_old.apply().get()
    assert Notification.objects.count() == Delivery.objects.count() == 1

    # And when it runs two days after that (and again), both are gone without error
    time_machine.shift(timedelta(days=2))
    tasks.purge_old.apply().get()
    tasks.purge_old.apply().get()
    assert not Notification.objects.exists()
    assert not Delivery.objects.exists()


def test_the_purge_is_scheduled_once_a_night(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["notifications-purge"]

    assert entry["task"] == tasks.purge_old.name
    assert entry["task"] in celery_app.tasks
    assert entry["schedule"] == crontab(hour=3, minute=30)
    assert settings.CELERY_TIMEZONE == settings.TIME_ZONE  # 03:30 local time, not UTC
