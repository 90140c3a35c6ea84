"""Directory reads: querysets with their joins applied."""

from __future__ import annotations

from django.db.models import QuerySet

from directory.models import BusinessSystem, Vendor


def system_list() -> QuerySet[BusinessSystem]:
    return BusinessSystem.objects.select_related("vendor").order_by("code")


def vendor_list() -> QuerySet[Vendor]:
    return Vendor.objects.order_by("code")
