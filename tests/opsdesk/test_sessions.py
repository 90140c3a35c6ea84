"""Sessions: Django's database backend, loaded by ``opsdesk.sessions`` without the ORM."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(client):
    user = factories.desk_agent()
    client.force_login(user)
    return user


def _home(client):
    return client.get(reverse("home"))


def test_a_signed_in_user_is_recognised_with_one_session_statement(client, desk):
    with CaptureQueriesContext(connection) as captured:
        response = _home(client)

    assert response.status_code == 200
    assert response.wsgi_request.user == desk
    session_reads = [q for q in captured if "django_session" in q["sql"]]
    assert len(session_reads) == 1
    assert session_reads[0]["sql"].startswith('SELECT "session_data"')


def test_an_expired_session_signs_the_user_out(client, desk):
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))

    response = _home(client)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_after_logout_the_old_cookie_opens_nothing(client, desk):
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post(reverse("logout"))

    client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    response = _home(client)

    assert response.status_code == 302
    assert not Session.objects.filter(session_key=cookie).exists()


@pytest.mark.parametrize("key", ["no-such-session-key-0123456789", "x", "'; DROP TABLE x; --"])
def test_an_unknown_or_malformed_session_key_is_anonymous(client, key):
    client.cookies[settings.SESSION_COOKIE_NAME] = key

    response = _home(client)

    assert response.status_code == 302


def test_tampered_session_data_is_anonymous_not_an_error(client, desk):
    Session.objects.update(session_data="tampered:data:signature")

    response = _home(client)

    assert response.status_code == 302


def test_a_session_survives_a_write_and_is_read_back(client, desk):
    # a write (the language menu stores nothing in the session, messages do): read back intact
    from importlib import import_module

    from django.contrib.sessions.backends.base import SessionBase

    store: SessionBase = import_module(settings.SESSION_ENGINE).SessionStore(
        client.cookies[settings.SESSION_COOKIE_NAME].value
    )
    store["opsdesk-probe"] = "值"
    store.save()

    reread = import_module(settings.SESSION_ENGINE).SessionStore(store.session_key)

    assert reread["opsdesk-probe"] == "值"
    assert reread["_auth_user_id"] == str(desk.pk)
