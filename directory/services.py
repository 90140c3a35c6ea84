"""Writes on the directory: vendors, systems, contracts, users and their roles."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import Group
from django.db import transaction

from directory.models import BusinessSystem, Contract, User, Vendor
from directory.roles import Role


def role_groups_ensure() -> dict[Role, Group]:
    """Create the group of every role if missing; returns them keyed by role."""
    return {role: Group.objects.get_or_create(name=role.value)[0] for role in Role}


@transaction.atomic
def vendor_upsert(*, code: str, name: str) -> Vendor:
    vendor, _ = Vendor.objects.update_or_create(code=code, defaults={"name": name})
    return vendor


@transaction.atomic
def system_upsert(*, code: str, name: str, tier: str, vendor: Vendor | None) -> BusinessSystem:
    system, _ = BusinessSystem.objects.update_or_create(
        code=code, defaults={"name": name, "tier": tier, "vendor": vendor}
    )
    return system


@transaction.atomic
def contract_upsert(
    *,
    number: str,
    vendor: Vendor,
    title: str,
    start_date: date,
    end_date: date,
    systems: list[BusinessSystem],
) -> Contract:
    contract, _ = Contract.objects.update_or_create(
        number=number,
        defaults={"vendor": vendor, "title": title, "start_date": start_date, "end_date": end_date},
    )
    contract.systems.set(systems)
    return contract


@transaction.atomic
def user_upsert(
    *,
    username: str,
    password: str,
    roles: list[Role],
    full_name: str = "",
    email: str = "",
    vendor: Vendor | None = None,
    department: str = "",
    is_superuser: bool = False,
) -> User:
    """Create or update a user and set exactly the given roles; the password is (re)set."""
    user, _ = User.objects.get_or_create(username=username)
    user.full_name = full_name
    user.email = email
    user.vendor = vendor
    user.department = department
    user.is_superuser = is_superuser
    user.is_staff = is_superuser
    user.set_password(password)
    user.save()
    user.groups.set(Group.objects.filter(name__in=[role.value for role in roles]))
    return user
