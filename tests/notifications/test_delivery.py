"""Sending: robots on a real local HTTP receiver, e-mail on locmem, retries and claims."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from notifications import selectors, services
from notifications.models import Delivery, DeliveryChannel, DeliveryStatus, WebhookKind
from notifications.services import delivery_send, notifications_create_bulk
from tests.factories import UserFactory
from tests.notifications.factories import ROBOT_OK, WebhookEndpointFactory, draft

pytestmark = pytest.mark.django_db


def _robot(receiver, kind=WebhookKind.WECOM, **fields):
    path = "/robot/send?access_token=tok" if kind == WebhookKind.DINGTALK else "/robot?key=k1"
    return WebhookEndpointFactory(kind=kind, url=receiver.url + path, **fields)


def _webhook_delivery(endpoint, **draft_fields) -> Delivery:
    notifications_create_bulk(rows=[draft(UserFactory(email=""), **draft_fields)])
    return Delivery.objects.get(endpoint=endpoint)


def test_wecom_robot_receives_a_text_message(receiver):
    # Given a WeCom robot and an escalation
    endpoint = _robot(receiver)
    delivery = _webhook_delivery(endpoint, url="/tickets/7/")

    # When the delivery is sent
    assert delivery_send(delivery_id=delivery.pk) == DeliveryStatus.SENT

    # Then the robot got WeCom's text payload, with its key kept in the query string
    (request,) = receiver.requests
    assert request.path == "/robot"
    assert request.query == {"key": ["k1"]}
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.json == {
        "msgtype": "text",
        "text": {
            "content": (
                "【INC-2026-000001 超时升级】\n一级故障已超过响应时限，请立即处理。\n/tickets/7/"
            )
        },
    }
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.attempts == 1
    assert delivery.sent_at is not None
    # The robot's credential never lands in the delivery log
    assert "k1" not in delivery.address


def test_links_are_absolute_when_the_site_url_is_known(receiver, settings):
    settings.OPSDESK_SITE_URL = "https://opsdesk.example.gov.cn"
    endpoint = _robot(receiver)
    delivery = _webhook_delivery(endpoint, url="/tickets/7/")

    delivery_send(delivery_id=delivery.pk)

    content = receiver.requests[0].json["text"]["content"]
    assert content.endswith("\nhttps://opsdesk.example.gov.cn/tickets/7/")


def test_dingtalk_robot_receives_a_signed_text_message(receiver):
    # Given a DingTalk robot with "加签" enabled
    secret = "SEC0123456789abcdef"
    endpoint = _robot(receiver, kind=WebhookKind.DINGTALK, secret=secret)
    delivery = _webhook_delivery(endpoint)

    # When the delivery is sent
    assert delivery_send(delivery_id=delivery.pk) == DeliveryStatus.SENT

    # Then the payload is DingTalk's text message
    (request,) = receiver.requests
    assert request.json["msgtype"] == "text"
    assert request.json["text"]["content"].startswith("【INC-2026-000001 超时升级】")
    # And the URL carries the token, a millisecond timestamp and the HMAC-SHA256 signature
    assert request.query["access_token"] == ["tok"]
    (timestamp,) = request.query["timestamp"]
    (sign,) = request.query["sign"]  # parse_qs already undid the URL encoding
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert sign == expected
    assert abs(int(timestamp) / 1000 - timezone.now().timestamp()) < 60


def test_dingtalk_robot_without_secret_is_not_signed(receiver):
    endpoint = _robot(receiver, kind=WebhookKind.DINGTALK)
    delivery = _webhook_delivery(endpoint)

    delivery_send(delivery_id=delivery.pk)

    assert set(receiver.requests[0].query) == {"access_token"}


def test_generic_webhook_receives_the_notification_as_json(receiver):
    endpoint = _robot(receiver, kind=WebhookKind.GENERIC)
    receiver.default = (204, b"")
    delivery = _webhook_delivery(endpoint, url="/tickets/3/")

    assert delivery_send(delivery_id=delivery.pk) == DeliveryStatus.SENT

    assert receiver.requests[0].json == {
        "kind": "escalation",
        "title": "INC-2026-000001 超时升级",
        "body": "一级故障已超过响应时限，请立即处理。",
        "url": "/tickets/3/",
        "ticket_id": None,
    }


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (200, {"errcode": 93000, "errmsg": "invalid webhook url"}),
        (500, {"error": "boom"}),
        (200, b"<html>proxy error</html>"),
    ],
    ids=["robot-errcode", "http-500", "not-json"],
)
def test_a_refused_message_is_rescheduled_with_backoff(receiver, status, answer):
    # Given a robot that refuses the message
    endpoint = _robot(receiver)
    receiver.respond((status, answer))
    delivery = _webhook_delivery(endpoint)
    before = timezone.now()

    # When the delivery is sent
    assert delivery_send(delivery_id=delivery.pk) == DeliveryStatus.PENDING

    # Then it counts one attempt and waits for a retry in about a minute
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert delivery.claimed_at is None
    assert delivery.next_attempt_at >= before + timedelta(seconds=59)
    assert delivery.last_error
    # And a second call before then sends nothing
    assert delivery_send(delivery_id=delivery.pk) is None
    assert len(receiver.requests) == 1


def test_an_unreachable_robot_is_rescheduled(unused_tcp_port_url):
    endpoint = WebhookEndpointFactory(url=unused_tcp_port_url)
    delivery = _webhook_delivery(endpoint)

    assert delivery_send(delivery_id=delivery.pk) == DeliveryStatus.PENDING

    delivery.refresh_from_db()
    assert "URLError" in delivery.last_error


@pytest.fixture
def unused_tcp_port_url():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/robot?key=k"


def test_backoff_doubles_and_the_delivery_fails_after_six_attempts(receiver, time_machine):
    # Given a robot that always refuses
    endpoint = _robot(receiver)
    receiver.default = (500, {"error": "down"})
    time_machine.move_to(timezone.now(), tick=False)
    delivery = _webhook_delivery(endpoint)

    # When every retry is attempted as soon as it is due
    delays = []
    for _ in range(services.MAX_ATTEMPTS):
        assert delivery_send(delivery_id=delivery.pk) is not None
        delivery.refresh_from_db()
        if delivery.status == DeliveryStatus.PENDING:
            delays.append(delivery.next_attempt_at - timezone.now())
            time_machine.move_to(delivery.next_attempt_at, tick=False)

    # Then the waits were 1, 2, 4, 8, 16 minutes and the sixth failure is final
    assert delays == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16)]
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 6
    assert len(receiver.requests) == 6
    # And nothing sends it again
    time_machine.move_to(timezone.now() + timedelta(days=1), tick=False)
    assert delivery_send(delivery_id=delivery.pk) is None
    assert delivery.pk not in selectors.deliveries_due(
        now=timezone.now(),
        first_attempt_grace=services.FIRST_ATTEMPT_GRACE,
        stale_after=services.CLAIM_STALE_AFTER,
        limit=10,
    )


def test_a_removed_robot_fails_at_once(receiver):
    endpoint = _robot(receiver)
    delivery = _webhook_delivery(endpoint)
    endpoint.is_active = False
    endpoint.save(update_fields=["is_active"])

    assert delivery_send(delivery_id=delivery.pk) == DeliveryStatus.FAILED
    assert receiver.requests == []


def test_sending_twice_sends_once(receiver):
    # Given a pending delivery
    delivery = _webhook_delivery(_robot(receiver))

    # When two tasks for it run one after the other (a duplicate message)
    first = delivery_send(delivery_id=delivery.pk)
    second = delivery_send(delivery_id=delivery.pk)

    # Then only the first sends
    assert (first, second) == (DeliveryStatus.SENT, None)
    assert len(receiver.requests) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_one_delivery_send_it_once(receiver):
    # Given a pending delivery and a slow robot
    delivery = _webhook_delivery(_robot(receiver))
    receiver.delay = 0.5
    results = []
    start = threading.Barrier(2)

    def worker():
        try:
            start.wait()
            results.append(delivery_send(delivery_id=delivery.pk))
        finally:
            connection.close()

    # When two workers send it at the same moment
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then the conditional UPDATE let exactly one of them send
    assert sorted(results, key=str) == [None, DeliveryStatus.SENT]
    assert len(receiver.requests) == 1


def test_a_claim_abandoned_by_a_dead_worker_is_taken_over(receiver, time_machine):
    # Given a delivery claimed by a worker that died mid-send
    delivery = _webhook_delivery(_robot(receiver))
    claimed_at = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENDING, claimed_at=claimed_at, attempts=1
    )

    # Then nobody may take it while the claim is fresh
    assert delivery_send(delivery_id=delivery.pk) is None

    # But once the claim is stale the sweep offers it and a worker sends it
    time_machine.move_to(claimed_at + services.CLAIM_STALE_AFTER + timedelta(seconds=1))
    due = selectors.deliveries_due(
        now=timezone.now(),
        first_attempt_grace=services.FIRST_ATTEMPT_GRACE,
        stale_after=services.CLAIM_STALE_AFTER,
        limit=10,
    )
    assert due == [delivery.pk]
    assert delivery_send(delivery_id=delivery.pk) == DeliveryStatus.SENT
    delivery.refresh_from_db()
    assert delivery.attempts == 2


def test_email_delivery_goes_through_the_mail_backend(settings):
    # Given Django's in-memory mail backend and a user with an address
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    user = UserFactory(email="zhang.san@example.invalid")
    notifications_create_bulk(rows=[draft(user, url="/tickets/9/")])
    delivery = Delivery.objects.get(channel=DeliveryChannel.EMAIL)

    # When the delivery is sent
    assert delivery_send(delivery_id=delivery.pk) == DeliveryStatus.SENT

    # Then one e-mail went to that address with the title, body and link
    (message,) = mail.outbox
    assert message.to == ["zhang.san@example.invalid"]
    assert message.subject == "[Opsdesk] INC-2026-000001 超时升级"
    assert message.body == "一级故障已超过响应时限，请立即处理。\n\n/tickets/9/"
    # And a duplicate task does not send it again
    assert delivery_send(delivery_id=delivery.pk) is None
    assert len(mail.outbox) == 1


def test_an_smtp_failure_is_rescheduled(settings):
    # Given an SMTP server that refuses connections
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    notifications_create_bulk(rows=[draft(UserFactory())])
    delivery = Delivery.objects.get(channel=DeliveryChannel.EMAIL)

    assert delivery_send(delivery_id=delivery.pk) == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert "ConnectionRefusedError" in delivery.last_error


def test_the_sweep_offers_lost_first_attempts_after_the_grace_period_and_due_retries():
    # Given a fresh delivery, one whose publish was lost long ago, a due retry and a future one
    now = timezone.now()
    notifications_create_bulk(rows=[draft(UserFactory()) for _ in range(4)])
    fresh, lost, due_retry, future_retry = Delivery.objects.order_by("id")
    Delivery.objects.filter(pk=lost.pk).update(next_attempt_at=now - timedelta(minutes=5))
    Delivery.objects.filter(pk=due_retry.pk).update(attempts=2, next_attempt_at=now)
    Delivery.objects.filter(pk=future_retry.pk).update(
        attempts=2, next_attempt_at=now + timedelta(minutes=3)
    )

    # When the sweep looks for due rows
    due = selectors.deliveries_due(
        now=now,
        first_attempt_grace=services.FIRST_ATTEMPT_GRACE,
        stale_after=services.CLAIM_STALE_AFTER,
        limit=10,
    )

    # Then it takes the lost first attempt and the due retry, oldest first
    assert due == [lost.pk, due_retry.pk]


def test_the_sweep_closes_claims_abandoned_on_the_last_attempt(receiver):
    delivery = _webhook_delivery(_robot(receiver))
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENDING,
        claimed_at=timezone.now() - timedelta(hours=1),
        attempts=services.MAX_ATTEMPTS,
    )

    services.deliveries_sweep(now=timezone.now())

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert receiver.requests == []


def test_admin_test_message_goes_through_the_outbox(receiver):
    # Given a working robot and a broken one
    ok = _robot(receiver)
    broken = WebhookEndpointFactory(url=receiver.url + "/broken?key=x")
    receiver.respond(ROBOT_OK, (200, {"errcode": 310000, "errmsg": "keywords not in content"}))

    # When the admin sends a test message to both
    deliveries = services.webhook_endpoints_test(endpoints=[ok, broken])

    # Then one is sent and the other failed at once (no retries for a test)
    assert [(d.endpoint_id, d.status) for d in deliveries] == [
        (ok.pk, DeliveryStatus.SENT),
        (broken.pk, DeliveryStatus.FAILED),
    ]
    assert "310000" in deliveries[1].last_error
    assert len(receiver.requests) == 2


def test_a_long_message_is_cut_to_fit_the_wecom_limit_keeping_the_link(receiver):
    endpoint = _robot(receiver)
    delivery = _webhook_delivery(endpoint, body="故障详情" * 1000, url="/tickets/8/")

    delivery_send(delivery_id=delivery.pk)

    content = receiver.requests[0].json["text"]["content"]
    assert len(content.encode("utf-8")) <= 2048
    assert content.startswith("【INC-2026-000001 超时升级】\n故障详情")
    assert content.endswith("…\n/tickets/8/")
