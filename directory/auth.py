"""Who is asking: each request's user and their roles, read in one statement.

Every request loads its user (from the session, or from an API token) and, at its first
permission check, the user's roles (``directory.roles``). Written out as one statement with the
group names in a subquery, this costs a third of the two ORM queries it replaces, on every page
and every API call. The statement is built once per process from the models' metadata.
"""

from __future__ import annotations

import functools

from django.contrib.auth import backends, get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from directory import roles

# The group names in one string; role names contain no comma.
_GROUP_NAMES_AGGREGATE = {
    "postgresql": "string_agg({name}, ',')",
    "sqlite": "group_concat({name}, ',')",
}


def user_with_roles(*, pk=None, token_key: str | None = None):
    """The active or inactive user with this primary key or API token, roles remembered; or None."""
    user_model = get_user_model()
    if connection.vendor not in _GROUP_NAMES_AGGREGATE:  # the plain ORM elsewhere
        users = user_model._default_manager
        found = users.filter(auth_token__key=token_key) if token_key else users.filter(pk=pk)
        return found.first()
    select, by_pk, by_token = _statements(user_model, connection.vendor)
    sql, param = (by_token, token_key) if token_key is not None else (by_pk, pk)
    with connection.cursor() as cursor:
        cursor.execute(f"{select} {sql}", [param])
        row = cursor.fetchone()
    if row is None:
        return None
    # The columns are the model's concrete fields in order: Model.from_db's fast path (a raw
    # queryset's column mapping cost as much again as the query).
    *values, group_names = row
    user = user_model.from_db(connection.alias, None, _converted(user_model, values))
    roles.remember_roles(user, (group_names or "").split(","))
    return user


def _converted(user_model, values: list) -> list:
    """Database values as the model's fields hold them (SQLite: booleans come back as ints)."""
    converters = _converters(user_model, connection.vendor)
    if converters:
        for index, convert in converters:
            values[index] = convert(values[index], None, connection)
    return values


@functools.cache
def _converters(user_model, vendor: str) -> tuple:
    """(index, converter) of each concrete field the backend converts on read."""
    found = []
    for index, field in enumerate(user_model._meta.concrete_fields):
        for convert in connection.ops.get_db_converters(field.get_col(field.model._meta.db_table)):
            found.append((index, convert))
        for convert in field.get_db_converters(connection):
            found.append((index, convert))
    return tuple(found)


@functools.cache
def _statements(user_model, vendor: str) -> tuple[str, str, str]:
    quote = connection.ops.quote_name
    user = user_model._meta
    token = Token._meta
    group_names = roles.group_names_select(
        user_model,
        _GROUP_NAMES_AGGREGATE[vendor].format(name="g.{name}"),
        user=f"u.{quote(user.pk.column)}",
    )
    columns = ", ".join(f"u.{quote(field.column)}" for field in user.concrete_fields)
    select = f"SELECT {columns}, ({group_names}) AS group_names FROM {quote(user.db_table)} u"
    by_pk = f"WHERE u.{quote(user.pk.column)} = %s"
    by_token = (
        f"JOIN {quote(token.db_table)} t"
        f" ON t.{quote(token.get_field('user').column)} = u.{quote(user.pk.column)}"
        f" WHERE t.{quote(token.pk.column)} = %s"
    )
    return select, by_pk, by_token


class ModelBackend(backends.ModelBackend):
    """Django's model backend, loading each request's user with their roles."""

    def get_user(self, user_id):
        try:
            pk = get_user_model()._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        user = user_with_roles(pk=pk)
        return user if user is not None and self.user_can_authenticate(user) else None


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, loading the user with their roles.

    ``request.auth`` is the token's key (DRF's gives the ``Token``; nothing here reads it).
    """

    def authenticate_credentials(self, key):
        user = user_with_roles(token_key=key)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (user, key)
