"""Each role's home page renders in Chinese by default and pulls nothing from outside."""

import re

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture
def demo():
    call_command("seed_demo", tickets=0)


@pytest.mark.parametrize(
    ("username", "home_kind", "expected"),
    [
        ("desk", "desk", "服务台工作台"),
        ("supervisor", "desk", "服务台工作台"),
        ("leader", "oversight", "监督总览"),
        ("vendor-a-engineer", "vendor", "甲服务商"),
        ("vendor-b-manager", "vendor", "乙服务商"),
        ("requester", "requester", "我的报障"),
        ("admin", "desk", "管理后台"),
    ],
)
def test_each_role_lands_on_its_home_page(client, demo, username, home_kind, expected):
    client.login(username=username, password="opsdesk-demo")
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-home="{home_kind}"' in html
    assert expected in html
    assert not EXTERNAL.search(html), EXTERNAL.search(html)


def test_anonymous_user_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_page_has_no_external_assets(client):
    html = client.get("/login/").content.decode()
    assert not EXTERNAL.search(html)
    assert "登录" in html


def test_language_switch_to_english(client, demo):
    client.login(username="desk", password="opsdesk-demo")
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = client.get("/").content.decode()
    assert "Service desk home" in html
    assert 'lang="en"' in html


def test_static_assets_are_served_by_the_app(client):
    from django.contrib.staticfiles import finders

    assert finders.find("bootstrap/css/bootstrap.min.css")
    assert finders.find("opsdesk/app.css")
