"""Creating notifications, the outbox rows they queue, and read state."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications import selectors
from notifications.models import Delivery, DeliveryChannel, DeliveryStatus, Notification
from notifications.services import (
    NotificationDraft,
    notification_mark_read,
    notifications_create_bulk,
    notifications_mark_all_read,
)
from opsdesk.errors import NotFound
from tests.factories import UserFactory
from tests.notifications.factories import NotificationFactory, WebhookEndpointFactory, draft

pytestmark = pytest.mark.django_db


def _create_for(count: int) -> int:
    users = UserFactory.create_batch(count)
    rows = [draft(user) for user in users]
    with CaptureQueriesContext(connection) as queries:
        assert notifications_create_bulk(rows=rows) == count
    return len(queries)


def test_bulk_create_costs_the_same_queries_for_5_or_50_recipients():
    # Given an active robot, so that every kind of row is written
    WebhookEndpointFactory()

    # When notifying 5 and then 50 recipients
    few, many = _create_for(5), _create_for(50)

    # Then both cost the same: addresses, endpoints, 2 bulk INSERTs (+ savepoint pair)
    assert few == many
    assert few == 6
    assert Notification.objects.count() == 55


def test_bulk_create_queues_one_email_per_recipient_with_an_address():
    # Given two users with an e-mail address and one without
    with_mail = UserFactory.create_batch(2)
    without_mail = UserFactory(email="")

    # When all three are notified
    notifications_create_bulk(rows=[draft(u) for u in [*with_mail, without_mail]])

    # Then only the two addresses get a pending e-mail delivery, linked to their notification
    emails = Delivery.objects.filter(channel=DeliveryChannel.EMAIL)
    assert sorted(emails.values_list("address", flat=True)) == sorted(u.email for u in with_mail)
    assert set(emails.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    for delivery in emails.select_related("notification"):
        assert delivery.notification.recipient.email == delivery.address
        assert delivery.payload["subject"] == "[Opsdesk] INC-2026-000001 超时升级"


def test_a_group_robot_gets_one_message_per_event_not_one_per_recipient():
    # Given one robot and an escalation sent to five people, plus a different event
    endpoint = WebhookEndpointFactory()
    users = UserFactory.create_batch(5)
    rows = [draft(u) for u in users] + [draft(users[0], kind="assigned", title="已派单")]

    # When the notifications are created
    notifications_create_bulk(rows=rows)

    # Then the robot gets two messages: one per (ticket, kind, title)
    webhooks = Delivery.objects.filter(channel=DeliveryChannel.WEBHOOK, endpoint=endpoint)
    contents = sorted(d.payload["text"]["content"].splitlines()[0] for d in webhooks)
    assert contents == ["【INC-2026-000001 超时升级】", "【已派单】"]


def test_robots_only_get_the_kinds_they_subscribe_to():
    # Given a robot for escalations only, a disabled robot and a robot for everything
    escalations = WebhookEndpointFactory(kinds=["escalation"])
    WebhookEndpointFactory(is_active=False)
    everything = WebhookEndpointFactory(kinds=[])
    user = UserFactory()

    # When an assignment and an escalation are notified
    notifications_create_bulk(rows=[draft(user, kind="assigned"), draft(user, kind="escalation")])

    # Then the filtered robot gets the escalation only, the disabled one nothing
    sent = Delivery.objects.filter(channel=DeliveryChannel.WEBHOOK)
    assert sorted(sent.values_list("endpoint_id", "notification__kind")) == sorted(
        [
            (escalations.pk, "escalation"),
            (everything.pk, "assigned"),
            (everything.pk, "escalation"),
        ]
    )


def test_disabled_channels_queue_nothing(settings):
    # Given e-mail and webhooks switched off
    settings.OPSDESK_EMAIL_NOTIFICATIONS_ENABLED = False
    settings.OPSDESK_WEBHOOKS_ENABLED = False
    WebhookEndpointFactory()

    # When a user is notified
    notifications_create_bulk(rows=[draft(UserFactory())])

    # Then the in-app notification exists and nothing is queued
    assert Notification.objects.count() == 1
    assert not Delivery.objects.exists()


def test_a_notification_about_a_ticket_links_to_the_ticket_page():
    # Given a draft about ticket 42 without an explicit URL
    user = UserFactory()
    from tests.tickets.factories import make_ticket

    ticket = make_ticket()

    # When it is created
    notifications_create_bulk(
        rows=[NotificationDraft(user.pk, ticket.pk, "assigned", "已派单", "请处理")]
    )

    # Then it links to the ticket page
    assert Notification.objects.get(recipient=user).url == f"/tickets/{ticket.pk}/"


def test_an_empty_batch_creates_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert notifications_create_bulk(rows=[]) == 0


def test_unread_count_counts_only_my_unread_notifications():
    # Given two unread and one read notification of mine, and one of someone else
    me = UserFactory()
    NotificationFactory.create_batch(2, recipient=me)
    read = NotificationFactory(recipient=me)
    notification_mark_read(user=me, notification_id=read.pk)
    NotificationFactory()

    # Then my count is two
    assert selectors.notifications_unread_count(user=me) == 2


def test_unread_count_is_capped_for_the_bell():
    me = UserFactory()
    NotificationFactory.create_batch(5, recipient=me)
    assert selectors.notifications_unread_count(user=me, cap=3) == 3


def test_marking_read_is_idempotent_and_keeps_the_first_time():
    # Given a notification read once
    notification = NotificationFactory()
    first = notification_mark_read(user=notification.recipient, notification_id=notification.pk)

    # When it is marked read again
    again = notification_mark_read(user=notification.recipient, notification_id=notification.pk)

    # Then the first read time stays
    notification.refresh_from_db()
    assert notification.read_at == first.read_at == again.read_at


def test_nobody_can_mark_another_users_notification_read():
    # Given someone else's notification
    notification = NotificationFactory()
    intruder = UserFactory()

    # When I try to mark it read, it does not exist for me
    with pytest.raises(NotFound):
        notification_mark_read(user=intruder, notification_id=notification.pk)

    # And it stays unread
    notification.refresh_from_db()
    assert notification.read_at is None


def test_mark_all_read_touches_only_my_notifications():
    # Given three unread of mine and one of someone else
    me = UserFactory()
    NotificationFactory.create_batch(3, recipient=me)
    other = NotificationFactory()

    # When I mark all read
    assert notifications_mark_all_read(user=me) == 3

    # Then mine are read and theirs is not
    assert not Notification.objects.filter(recipient=me, read_at__isnull=True).exists()
    other.refresh_from_db()
    assert other.read_at is None
