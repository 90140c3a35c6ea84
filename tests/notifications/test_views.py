"""The inbox page, its POST actions and the bell in the navigation bar."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications import selectors, services
from notifications.models import (
    Delivery,
    DeliveryStatus,
    Notification,
    WebhookEndpoint,
    WebhookKind,
)
from notifications.services import notification_mark_read, notifications_create_bulk
from tests.factories import UserFactory, desk_agent
from tests.notifications.factories import NotificationFactory, WebhookEndpointFactory, draft

pytestmark = pytest.mark.django_db


@pytest.fixture
def me(client):
    user = desk_agent()
    client.force_login(user)
    return user


def _queries(client, path: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_list_shows_my_notifications_newest_first_with_unread_highlighted(client, me):
    # Given an older read notification, a newer unread one, and one of someone else
    older = NotificationFactory(recipient=me, title="旧的通知")
    notification_mark_read(user=me, notification_id=older.pk)
    newer = NotificationFactory(recipient=me, title="新的通知", url="/tickets/5/")
    NotificationFactory(title="别人的通知")

    # When I open the list
    html = client.get("/notifications/").content.decode()

    # Then mine are listed newest first, the unread one highlighted, and theirs not at all
    assert html.index("新的通知") < html.index("旧的通知")
    assert "别人的通知" not in html
    assert f'data-notification="{newer.pk}" data-unread="true"' in html
    assert f'data-notification="{older.pk}" data-unread="false"' in html
    assert 'name="next" value="/tickets/5/"' in html


def test_the_list_shows_the_ticket_number(client, me):
    from tests.tickets.factories import make_ticket

    ticket = make_ticket()
    NotificationFactory(recipient=me, ticket=ticket)

    html = client.get("/notifications/").content.decode()

    assert ticket.number in html


def test_the_list_costs_the_same_queries_for_3_or_30_notifications(client, me):
    # Given three notifications about tickets
    from tests.tickets.factories import make_ticket

    ticket = make_ticket()
    NotificationFactory.create_batch(3, recipient=me, ticket=ticket)
    few, _ = _queries(client, "/notifications/")

    # When there are thirty (more than a page)
    NotificationFactory.create_batch(27, recipient=me, ticket=ticket)
    many, html = _queries(client, "/notifications/")

    # Then the page costs the same number of queries
    assert few == many
    assert "第 1 / 2 页" in html


def test_the_bell_shows_my_unread_count_with_one_query(client, me):
    # Given four unread notifications of mine and one of someone else
    NotificationFactory.create_batch(4, recipient=me)
    NotificationFactory()

    # When any page is rendered
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/").content.decode()

    # Then the bell links to the list and shows 4, counted in a single query
    bell = re.search(r'<a [^>]*id="notification-bell".*?</a>', html, re.S).group(0)
    assert 'href="/notifications/"' in bell
    assert "通知" in bell
    assert (
        '<span class="badge rounded-pill bg-danger" id="notification-unread-count">4</span>' in bell
    )
    notification_queries = [
        q["sql"] for q in queries.captured_queries if "notifications_notification" in q["sql"]
    ]
    assert len(notification_queries) == 1


def test_the_bell_has_no_badge_when_everything_is_read(client, me):
    html = client.get("/notifications/").content.decode()
    assert 'id="notification-bell"' in html
    assert 'id="notification-unread-count"' not in html


def test_the_bell_caps_at_99_plus(client, me):
    NotificationFactory.create_batch(100, recipient=me)
    html = client.get("/notifications/").content.decode()
    assert 'id="notification-unread-count">99+</span>' in html


def test_opening_a_notification_marks_it_read_and_goes_to_the_ticket(client, me):
    notification = NotificationFactory(recipient=me, url="/tickets/5/")

    response = client.post(f"/notifications/{notification.pk}/read/", {"next": "/tickets/5/"})

    assert response.status_code == 302
    assert response["Location"] == "/tickets/5/"
    notification.refresh_from_db()
    assert notification.read_at is not None


@pytest.mark.parametrize(
    "target",
    # off site; a bare word redirect() would take for a URL name (was a 500); a control char
    ["https://evil.example/", "//evil.example/", "1:1", "tickets", "/tickets/\x00", "/a\nb"],
)
def test_marking_read_goes_back_only_to_a_path_on_this_site(client, me, target):
    notification = NotificationFactory(recipient=me)

    response = client.post(f"/notifications/{notification.pk}/read/", {"next": target})
    read_all = client.post("/notifications/read-all/", {"next": target})

    assert response.status_code == read_all.status_code == 302
    assert response["Location"] == read_all["Location"] == "/notifications/"


def test_marking_another_users_notification_read_is_404(client, me):
    # Given someone else's notification
    theirs = NotificationFactory()

    # When I post "mark read" for its id
    response = client.post(f"/notifications/{theirs.pk}/read/")

    # Then it does not exist for me and stays unread
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_read_only_touches_mine(client, me):
    NotificationFactory.create_batch(3, recipient=me)
    theirs = NotificationFactory()

    response = client.post("/notifications/read-all/")

    assert response.status_code == 302
    assert not Notification.objects.filter(recipient=me, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_state_changes_are_post_only_and_need_the_csrf_token(me):
    notification = NotificationFactory(recipient=me)
    client = Client(enforce_csrf_checks=True)
    client.force_login(me)

    assert client.get(f"/notifications/{notification.pk}/read/").status_code == 405
    assert client.post(f"/notifications/{notification.pk}/read/").status_code == 403
    assert client.post("/notifications/read-all/").status_code == 403
    notification.refresh_from_db()
    assert notification.read_at is None


def test_anonymous_users_are_sent_to_login(client):
    response = client.get("/notifications/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_admin_can_send_a_test_message_to_a_robot(admin_client, receiver):
    # Given a configured DingTalk robot
    endpoint = WebhookEndpointFactory(
        kind=WebhookKind.DINGTALK, url=receiver.url + "/robot/send?access_token=t"
    )

    # When the admin runs the "send test message" action
    response = admin_client.post(
        "/admin/notifications/webhookendpoint/",
        {"action": "send_test_message", "_selected_action": [endpoint.pk]},
        follow=True,
    )

    # Then the robot received the test message and the admin sees the result
    assert response.status_code == 200
    (request,) = receiver.requests
    assert request.json["text"]["content"].startswith("【Opsdesk 测试消息】")
    assert "测试消息已发送" in response.content.decode()


def test_admin_lists_deliveries_with_filters(admin_client):
    NotificationFactory.create_batch(2, recipient=UserFactory())
    for path in (
        "/admin/notifications/delivery/?status__exact=pending&channel__exact=email",
        "/admin/notifications/notification/",
        "/admin/notifications/webhookendpoint/",
    ):
        assert admin_client.get(path).status_code == 200


@pytest.mark.parametrize(("kinds", "expected"), [("", []), ('["escalation"]', ["escalation"])])
def test_admin_configures_a_robot_for_all_or_some_kinds(admin_client, kinds, expected):
    response = admin_client.post(
        "/admin/notifications/webhookendpoint/add/",
        {
            "name": "运维值班群",
            "kind": WebhookKind.WECOM,
            "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
            "is_active": "on",
            "kinds": kinds,
            "secret": "",
        },
    )

    assert response.status_code == 302, response.content.decode()
    assert WebhookEndpoint.objects.get().kinds == expected


def test_admin_rejects_a_robot_url_that_is_not_http(admin_client):
    response = admin_client.post(
        "/admin/notifications/webhookendpoint/add/",
        {"name": "x", "kind": WebhookKind.GENERIC, "url": "ftp://example.org/x", "kinds": "[]"},
    )

    assert response.status_code == 200
    assert not WebhookEndpoint.objects.exists()


def test_admin_requeues_failed_deliveries_for_the_sweep(admin_client):
    # Given a delivery that failed for good
    notifications_create_bulk(rows=[draft(UserFactory())])
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, attempts=6)

    # When the admin requeues it
    admin_client.post(
        "/admin/notifications/delivery/",
        {"action": "requeue", "_selected_action": [delivery.pk]},
    )

    # Then it is pending with a fresh budget and the next sweep picks it up
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
    assert selectors.deliveries_due(
        now=timezone.now(),
        first_attempt_grace=services.FIRST_ATTEMPT_GRACE,
        stale_after=services.CLAIM_STALE_AFTER,
        limit=10,
    ) == [delivery.pk]
