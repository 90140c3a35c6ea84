"""Factories for notifications."""

from __future__ import annotations

import factory
from django.utils import timezone

from notifications.models import (
    Delivery,
    DeliveryChannel,
    DeliveryStatus,
    Notification,
    WebhookEndpoint,
    WebhookKind,
)
from notifications.services import NotificationDraft
from tests.factories import UserFactory

# What WeCom and DingTalk robots answer when they accept a message.
ROBOT_OK = (200, {"errcode": 0, "errmsg": "ok"})


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    recipient = factory.SubFactory(UserFactory)
    kind = "escalation"
    title = factory.Sequence(lambda n: f"工单超时升级 {n}")
    body = "一级故障已超过响应时限。"


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint

    name = factory.Sequence(lambda n: f"运维群机器人{n}")
    kind = WebhookKind.WECOM
    url = "http://127.0.0.1:9/cgi-bin/webhook/send?key=secret-key"


class DeliveryFactory(factory.django.DjangoModelFactory):
    """An e-mail delivery of a notification, created with it; pending unless a trait says."""

    class Meta:
        model = Delivery

    class Params:
        sent = factory.Trait(
            status=DeliveryStatus.SENT,
            attempts=1,
            claimed_at=factory.SelfAttribute("created_at"),
            sent_at=factory.SelfAttribute("created_at"),
        )
        failed = factory.Trait(
            status=DeliveryStatus.FAILED,
            attempts=6,
            claimed_at=factory.SelfAttribute("created_at"),
            last_error="HTTP 404",
        )
        retrying = factory.Trait(status=DeliveryStatus.PENDING, attempts=2, last_error="timeout")
        sending = factory.Trait(
            status=DeliveryStatus.SENDING,
            attempts=1,
            claimed_at=factory.SelfAttribute("created_at"),
        )

    channel = DeliveryChannel.EMAIL
    notification = factory.SubFactory(NotificationFactory)
    address = "engineer@example.invalid"
    payload = factory.LazyFunction(lambda: {"subject": "[Opsdesk] 超时升级", "body": "请处理。"})
    created_at = factory.LazyAttribute(
        lambda d: d.notification.created_at if d.notification else timezone.now()
    )
    next_attempt_at = factory.SelfAttribute("created_at")


def draft(recipient, **fields) -> NotificationDraft:
    fields.setdefault("ticket_id", None)
    fields.setdefault("kind", "escalation")
    fields.setdefault("title", "INC-2026-000001 超时升级")
    fields.setdefault("body", "一级故障已超过响应时限，请立即处理。")
    return NotificationDraft(recipient_id=recipient.pk, **fields)
