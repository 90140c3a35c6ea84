import pytest
from django.core.management import call_command

from directory import roles
from directory.models import BusinessSystem, Contract, User, Vendor
from directory.roles import Role
from tests import factories

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent():
    call_command("seed_demo", tickets=0)
    counts = (Vendor.objects.count(), BusinessSystem.objects.count(), User.objects.count())
    call_command("seed_demo", tickets=0)
    assert (Vendor.objects.count(), BusinessSystem.objects.count(), User.objects.count()) == counts
    codes = set(Vendor.objects.values_list("code", flat=True))
    assert codes >= {"vendor-a", "vendor-b", "vendor-c"}


def test_seed_demo_creates_the_tender_systems_with_their_contract_periods():
    call_command("seed_demo", tickets=0)
    months = {}
    for contract in Contract.objects.prefetch_related("systems"):
        span = (contract.end_date.year - contract.start_date.year) * 12
        span += contract.end_date.month - contract.start_date.month + 1
        for system in contract.systems.all():
            months[system.code] = span
    assert months == {"labour-online": 10, "approval-supervision": 12, "comms": 10}


def test_seed_demo_users_can_log_in_with_the_demo_password(client):
    call_command("seed_demo", tickets=0)
    for username in ["admin", "desk", "supervisor", "leader", "vendor-a-engineer", "requester"]:
        assert client.login(username=username, password="opsdesk-demo"), username


def test_vendor_engineer_is_vendor_staff_but_not_desk():
    vendor = factories.VendorFactory()
    engineer = factories.vendor_engineer(vendor)
    assert roles.is_vendor_staff(engineer)
    assert not roles.is_desk(engineer)
    assert roles.home_kind(engineer) == "vendor"


def test_vendor_role_without_a_vendor_is_not_vendor_staff():
    user = factories.UserFactory(roles=[Role.VENDOR_ENGINEER])
    assert not roles.is_vendor_staff(user)


def test_superuser_is_administrator_and_lands_on_desk_home():
    admin = factories.UserFactory(is_superuser=True)
    assert Role.ADMINISTRATOR in roles.roles_of(admin)
    assert roles.home_kind(admin) == "desk"


def test_roles_are_read_once_per_user_object(django_assert_num_queries):
    user = factories.leader()
    user = User.objects.get(pk=user.pk)
    with django_assert_num_queries(1):
        roles.is_oversight(user)
        roles.is_desk(user)
        roles.home_kind(user)


def test_seed_demo_adds_tickets_across_kinds_and_states_once():
    from tickets.models import Ticket

    call_command("seed_demo", tickets=40)
    call_command("seed_demo", tickets=40)
    assert Ticket.objects.count() == 40
    kinds = set(Ticket.objects.values_list("kind", flat=True))
    statuses = set(Ticket.objects.values_list("status", flat=True))
    assert {"incident", "request"} <= kinds
    assert "closed" in statuses
    assert len(statuses) >= 3
    # Every demo ticket went through the services: it has a creation event and a number.
    assert not Ticket.objects.filter(events__isnull=True).exists()
