"""Pages are in Simplified Chinese unless the user picks English; the API follows the client."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(client):
    user = factories.desk_agent()
    client.force_login(user)
    return user


def test_pages_stay_chinese_for_a_browser_that_prefers_english(client, desk):
    response = client.get(reverse("tickets:list"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")

    assert response.status_code == 200
    assert response["Content-Language"] == "zh-hans"
    assert "工单列表" in response.content.decode()
    assert "Accept-Language" not in response.get("Vary", "")


def test_the_login_page_is_chinese_too(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en")

    assert response["Content-Language"] == "zh-hans"


def test_choosing_english_in_the_menu_switches_and_sticks(client, desk):
    chosen = client.post(reverse("set_language"), {"language": "en", "next": "/tickets/"})
    assert chosen.status_code == 302

    response = client.get(reverse("tickets:list"), HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert response["Content-Language"] == "en"
    assert "Tickets" in response.content.decode()
    assert "Cookie" in response["Vary"]


def test_an_unknown_language_cookie_falls_back_to_chinese(client, desk):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "xx"

    response = client.get(reverse("tickets:list"))

    assert response["Content-Language"] == "zh-hans"


def test_api_clients_get_the_language_they_ask_for(client, desk):
    english = client.get("/api/v1/tickets/", {"ordering": "nope"}, HTTP_ACCEPT_LANGUAGE="en")
    chinese = client.get("/api/v1/tickets/", {"ordering": "nope"})

    assert english.status_code == chinese.status_code == 400
    assert english["Content-Language"] == "en"
    assert chinese["Content-Language"] == "zh-hans"
    assert english.json()["ordering"] != chinese.json()["ordering"]
    assert "Accept-Language" in english["Vary"]
