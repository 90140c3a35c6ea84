"""Factories for notifications."""

from __future__ import annotations

import factory

from notifications.models import Notification, WebhookEndpoint, WebhookKind
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


def draft(recipient, **fields) -> NotificationDraft:
    fields.setdefault("ticket_id", None)
    fields.setdefault("kind", "escalation")
    fields.setdefault("title", "INC-2026-000001 超时升级")
    fields.setdefault("body", "一级故障已超过响应时限，请立即处理。")
    return NotificationDraft(recipient_id=recipient.pk, **fields)
