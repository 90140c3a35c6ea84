"""Read-only directory endpoints (``/api/v1/systems/``, ``/api/v1/vendors/``), keyed by code."""

from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.viewsets import GenericViewSet

from directory import selectors
from directory.models import BusinessSystem, SystemTier, Vendor


class VendorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Vendor
        fields = ["code", "name", "is_active"]
        read_only_fields = fields


class SystemSerializer(serializers.ModelSerializer):
    vendor = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = BusinessSystem
        fields = ["code", "name", "tier", "vendor", "is_active"]
        read_only_fields = fields


# Codes are slugs; anything else never reaches the database (PostgreSQL rejects NUL bytes).
CODE_PATTERN = r"[-a-zA-Z0-9_]+"


class SystemFilter(django_filters.FilterSet):
    tier = django_filters.ChoiceFilter(choices=SystemTier.choices)
    vendor = django_filters.ModelChoiceFilter(queryset=Vendor.objects.all(), to_field_name="code")
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = BusinessSystem
        fields: list[str] = []


class VendorFilter(django_filters.FilterSet):
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Vendor
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(summary="Business systems (业务系统)", tags=["directory"]),
    retrieve=extend_schema(summary="A business system by code", tags=["directory"]),
)
class SystemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    serializer_class = SystemSerializer
    lookup_field = "code"
    lookup_value_regex = CODE_PATTERN
    filter_backends = [DjangoFilterBackend]
    filterset_class = SystemFilter

    def get_queryset(self):
        return selectors.system_list()


@extend_schema_view(
    list=extend_schema(summary="Vendors (服务商)", tags=["directory"]),
    retrieve=extend_schema(summary="A vendor by code", tags=["directory"]),
)
class VendorViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    serializer_class = VendorSerializer
    lookup_field = "code"
    lookup_value_regex = CODE_PATTERN
    filter_backends = [DjangoFilterBackend]
    filterset_class = VendorFilter

    def get_queryset(self):
        return selectors.vendor_list()
