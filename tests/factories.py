"""Factories for the directory, shared by every app's tests."""

from __future__ import annotations

import factory
from django.contrib.auth.models import Group

from directory.models import BusinessSystem, SystemTier, User, Vendor
from directory.roles import Role


class VendorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vendor
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"vendor-{n}")
    name = factory.Sequence(lambda n: f"服务商{n}")


class BusinessSystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessSystem
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"system-{n}")
    name = factory.Sequence(lambda n: f"业务系统{n}")
    tier = SystemTier.MAIN
    vendor = factory.SubFactory(VendorFactory)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Sequence(lambda n: f"用户{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.invalid")
    password = factory.django.Password("opsdesk-test")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            groups = [Group.objects.get_or_create(name=Role(role).value)[0] for role in extracted]
            self.groups.add(*groups)


def desk_agent(**kwargs) -> User:
    return UserFactory(roles=[Role.DESK_AGENT], **kwargs)


def desk_supervisor(**kwargs) -> User:
    return UserFactory(roles=[Role.DESK_SUPERVISOR], **kwargs)


def leader(**kwargs) -> User:
    return UserFactory(roles=[Role.CENTRE_LEADER], **kwargs)


def requester(**kwargs) -> User:
    return UserFactory(roles=[Role.REQUESTER], **kwargs)


def vendor_engineer(vendor: Vendor, **kwargs) -> User:
    return UserFactory(roles=[Role.VENDOR_ENGINEER], vendor=vendor, **kwargs)


def vendor_manager(vendor: Vendor, **kwargs) -> User:
    return UserFactory(roles=[Role.VENDOR_MANAGER], vendor=vendor, **kwargs)
