"""Loading each request's user with their roles in one statement (session and API token)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token

from directory import roles
from directory.auth import ModelBackend, user_with_roles
from directory.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_session_user_comes_with_their_roles_in_one_query(django_assert_num_queries):
    agent = factories.desk_agent()
    agent.groups.add(Group.objects.create(name="not-a-role"))

    with django_assert_num_queries(1):
        user = ModelBackend().get_user(agent.pk)
        assert roles.roles_of(user) == {Role.DESK_AGENT}
        assert roles.is_desk(user) and not roles.is_oversight(user)


def test_the_loaded_user_holds_what_the_orm_would_load_field_by_field():
    # read off a cursor: the backend's converters must still apply (SQLite returns booleans
    # as integers and datetimes as text)
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    user = factories.desk_agent(full_name="王服务台", email="desk@example.cn")
    get_user_model().objects.filter(pk=user.pk).update(last_login=timezone.now())
    expected = get_user_model().objects.get(pk=user.pk)

    loaded = user_with_roles(pk=user.pk)

    for field in get_user_model()._meta.concrete_fields:
        ours, theirs = getattr(loaded, field.attname), getattr(expected, field.attname)
        assert (ours, type(ours)) == (theirs, type(theirs)), field.name
    assert loaded._state.adding is False
    assert loaded._state.db == expected._state.db


def test_a_user_in_several_role_groups_has_them_all():
    user = factories.leader()
    user.groups.add(Group.objects.get_or_create(name=Role.DESK_SUPERVISOR)[0])

    assert roles.roles_of(user_with_roles(pk=user.pk)) == {
        Role.CENTRE_LEADER,
        Role.DESK_SUPERVISOR,
    }


def test_a_user_without_groups_has_no_role_and_a_superuser_is_administrator():
    plain = factories.UserFactory()
    admin = factories.UserFactory(is_superuser=True)

    assert roles.roles_of(user_with_roles(pk=plain.pk)) == frozenset()
    assert roles.roles_of(user_with_roles(pk=admin.pk)) == {Role.ADMINISTRATOR}


def test_unknown_or_malformed_session_users_are_anonymous():
    backend = ModelBackend()

    assert backend.get_user(987654) is None
    assert backend.get_user("not-a-number") is None


def test_an_inactive_user_is_not_loaded_from_the_session():
    user = factories.desk_agent(is_active=False)

    assert ModelBackend().get_user(user.pk) is None


def _api(client, key: str):
    return client.get(reverse("api:ticket-list"), HTTP_AUTHORIZATION=f"Token {key}")


def test_a_token_authenticates_its_user_with_roles_in_the_same_query(client):
    agent = factories.desk_agent()
    key = Token.objects.create(user=agent).key

    with CaptureQueriesContext(connection) as captured:
        response = _api(client, key)

    assert response.status_code == 200
    reads_groups = [query["sql"] for query in captured if "auth_group" in query["sql"]]
    assert len(reads_groups) == 1
    assert "authtoken_token" in reads_groups[0]


@pytest.mark.parametrize("key", ["0" * 40, "bad key", ""])
def test_an_unknown_token_is_refused(client, key):
    factories.desk_agent()

    response = _api(client, key)

    assert response.status_code == 401


def test_an_inactive_users_token_is_refused(client):
    user = factories.desk_agent(is_active=False)
    key = Token.objects.create(user=user).key

    response = _api(client, key)

    assert response.status_code == 401
    assert response.json()["detail"]


def test_a_token_user_loses_a_revoked_role_on_the_next_request(client):
    agent = factories.desk_agent()
    key = Token.objects.create(user=agent).key
    assert roles.is_desk(user_with_roles(token_key=key))

    agent.groups.clear()

    assert roles.roles_of(user_with_roles(token_key=key)) == frozenset()
