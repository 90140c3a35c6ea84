"""Roles: the one place where group membership is turned into what a user may do.

Roles are Django groups named by ``Role`` values. Views, APIs and services ask the predicates
below (``is_desk(user)``), never compare group names themselves.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from django.db import connection, models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", _("系统管理员")
    DESK_AGENT = "desk_agent", _("服务台坐席")
    DESK_SUPERVISOR = "desk_supervisor", _("服务台主管")
    VENDOR_ENGINEER = "vendor_engineer", _("服务商工程师")
    VENDOR_MANAGER = "vendor_manager", _("服务商经理")
    CENTRE_LEADER = "centre_leader", _("中心领导/监督")
    REQUESTER = "requester", _("报障用户")


DESK_ROLES = frozenset({Role.DESK_AGENT, Role.DESK_SUPERVISOR, Role.ADMINISTRATOR})
VENDOR_ROLES = frozenset({Role.VENDOR_ENGINEER, Role.VENDOR_MANAGER})
OVERSIGHT_ROLES = frozenset({Role.CENTRE_LEADER, Role.DESK_SUPERVISOR, Role.ADMINISTRATOR})

_CACHE_ATTR = "_opsdesk_roles"


def roles_of(user) -> frozenset[Role]:
    """The user's roles, read once per request and cached on the user object."""
    if user is None or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = remember_roles(user, _group_names(user))
    return cached


def remember_roles(user, group_names: Iterable[str]) -> frozenset[Role]:
    """Cache on ``user`` the roles its groups grant, for a loader that read the group names
    along with the user (``directory.auth``): ``roles_of`` then needs no query."""
    valid = {choice.value for choice in Role}
    roles = {Role(name) for name in group_names if name in valid}
    if user.is_superuser:
        roles.add(Role.ADMINISTRATOR)
    cached = frozenset(roles)
    setattr(user, _CACHE_ATTR, cached)
    return cached


def _group_names(user) -> list[str]:
    """The names of the user's groups.

    Every request asks this once; the statement is written out because building it with the
    ORM costs three times what the database takes to answer it.
    """
    with connection.cursor() as cursor:
        # __class__, not type(): request.user is a lazy proxy of the user.
        cursor.execute(_group_names_sql(user.__class__), [user.pk])
        return [name for (name,) in cursor.fetchall()]


@functools.cache
def _group_names_sql(user_model) -> str:
    return group_names_select(user_model, "g.{name}", user="%s")


def group_names_select(user_model, select: str, *, user: str) -> str:
    """``SELECT <select> FROM`` the groups of the user ``user`` (SQL: ``%s``, or a column).

    ``{name}`` in ``select`` stands for the group name column, quoted; the group table is ``g``.
    """
    membership = user_model.groups.through._meta
    group = membership.get_field("group").related_model._meta
    quote = connection.ops.quote_name
    return (
        f"SELECT {select.format(name=quote(group.get_field('name').column))}"
        f" FROM {quote(group.db_table)} g"
        f" JOIN {quote(membership.db_table)} m"
        f" ON m.{quote(membership.get_field('group').column)} = g.{quote(group.pk.column)}"
        f" WHERE m.{quote(membership.get_field('user').column)} = {user}"
    )


def has_role(user, *roles: Role) -> bool:
    return bool(roles_of(user) & set(roles))


def is_desk(user) -> bool:
    """Desk agents, desk supervisors and administrators: every ticket, every action."""
    return has_role(user, *DESK_ROLES)


def is_desk_supervisor(user) -> bool:
    return has_role(user, Role.DESK_SUPERVISOR, Role.ADMINISTRATOR)


def is_vendor_staff(user) -> bool:
    """Vendor engineers and managers who belong to a vendor."""
    return has_role(user, *VENDOR_ROLES) and getattr(user, "vendor_id", None) is not None


def is_vendor_manager(user) -> bool:
    return has_role(user, Role.VENDOR_MANAGER) and getattr(user, "vendor_id", None) is not None


def is_oversight(user) -> bool:
    """Centre supervisors/leaders read everything; desk supervisors and admins too."""
    return has_role(user, *OVERSIGHT_ROLES)


def is_requester(user) -> bool:
    return has_role(user, Role.REQUESTER)


def primary_role(user) -> Role | None:
    """The role that decides the user's home page and navigation, most privileged first."""
    roles = roles_of(user)
    for role in (
        Role.ADMINISTRATOR,
        Role.DESK_SUPERVISOR,
        Role.DESK_AGENT,
        Role.CENTRE_LEADER,
        Role.VENDOR_MANAGER,
        Role.VENDOR_ENGINEER,
        Role.REQUESTER,
    ):
        if role in roles:
            return role
    return None


def home_kind(user) -> str:
    """Which home page the user lands on: ``desk``, ``oversight``, ``vendor`` or ``requester``."""
    role = primary_role(user)
    if role in (Role.ADMINISTRATOR, Role.DESK_AGENT, Role.DESK_SUPERVISOR):
        return "desk"
    if role == Role.CENTRE_LEADER:
        return "oversight"
    if role in VENDOR_ROLES and is_vendor_staff(user):
        return "vendor"
    return "requester"
