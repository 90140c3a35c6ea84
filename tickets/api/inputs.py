"""Input serializers of the ticket API: parse and type-check only; the services validate the
business rules.

Also the fields that resolve systems, vendors and categories by ``code`` (some through
Django's cache, for the create hot path) and the cache settings they use.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from django.core.cache import cache
from django.utils.translation import gettext as _
from rest_framework import serializers

from directory.models import BusinessSystem, User, Vendor
from tickets.models import LINK_CHOICES, Category, Channel, Kind, ResolutionCode


class InputSerializer(serializers.Serializer):
    """Rejects unknown fields so that a typo or a read-only field is never silently ignored."""

    # A browser form may carry Django's CSRF token in the body.
    IGNORED = frozenset({"csrfmiddlewaretoken"})

    def get_fields(self) -> dict[str, serializers.Field]:
        # DRF deep-copies every declared field for each serializer, re-running each field's
        # __init__ (a quarter of a millisecond for TicketCreateInput, on every create). A
        # shallow copy is enough for these plain input fields: bind() gives each copy its own
        # name and parent, and validation only reads what the copies share (choices,
        # validators, querysets, which RelatedField clones per lookup, and a ListField's
        # child, which stays bound to the declared ListField).
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            names = sorted(set(data) - set(self.fields) - self.IGNORED)
            unknown = {name: [_("未知字段。")] for name in names}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


# Systems and categories change a few times a year, yet resolving their codes cost a query on
# every create, and monitoring clients post alerts in bursts. A resolved code is kept in each
# process's cache this long: a code added a moment ago is a miss and read from the database,
# but a system deactivated meanwhile is still accepted for up to this long by processes that
# resolved it before (the admin edit cannot reach their caches).
CODE_CACHE_SECONDS = 60
CODE_CACHE_PREFIX = "tickets:api:code"
# What a code (a SlugField of 50) can be.
_CODE = re.compile(r"[-a-zA-Z0-9_]{1,50}")


class CodeRelatedField(serializers.SlugRelatedField):
    """A row referenced by its ``code``; a value no code can be is refused without a query.

    Anything but a short slug (a number, a list, 1,000 characters) cannot name a row, and a NUL
    byte in the lookup is an error in PostgreSQL: that was a 500 where it must be a 400.
    """

    def __init__(self, **kwargs):
        super().__init__(slug_field="code", **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or not _CODE.fullmatch(data):
            shown = (data if isinstance(data, str) else repr(data)).replace("\x00", "\\x00")
            self.fail("does_not_exist", slug_name=self.slug_field, value=shown[:60])
        return super().to_internal_value(data)


class CachedCodeRelatedField(CodeRelatedField):
    """A ``CodeRelatedField`` whose hits come from Django's cache instead of the database.

    Only rows found are cached: an unknown code is still a 400 naming the field, every time.
    ``name`` keys the cache, so that two fields of one model with different querysets (active
    only or not) never share entries.
    """

    def __init__(self, *, name: str, **kwargs):
        self.cache_name = name
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or not _CODE.fullmatch(data):
            return super().to_internal_value(data)  # refused, no query
        key = f"{CODE_CACHE_PREFIX}:{self.cache_name}:{data}"
        instance = cache.get(key)
        if instance is None:
            instance = super().to_internal_value(data)
            cache.set(key, instance, CODE_CACHE_SECONDS)
        return instance


def category_field(**kwargs) -> CodeRelatedField:
    return CodeRelatedField(queryset=Category.objects.filter(is_active=True), **kwargs)


# Creation is the hot path (alerts in bursts): it resolves its codes through the cache.
def cached_system_field(**kwargs) -> CachedCodeRelatedField:
    return CachedCodeRelatedField(name="system", queryset=BusinessSystem.objects.all(), **kwargs)


def cached_category_field(**kwargs) -> CachedCodeRelatedField:
    return CachedCodeRelatedField(
        name="active-category", queryset=Category.objects.filter(is_active=True), **kwargs
    )


def tags_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=50), max_length=20, **kwargs
    )


class VersionInput(InputSerializer):
    version = serializers.IntegerField(
        min_value=1,
        required=False,
        help_text="The version the client last saw; a stale one is 409 stale_version.",
    )


class TicketCreateInput(InputSerializer):
    title = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Kind.choices, default=Kind.INCIDENT)
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.API)
    description = serializers.CharField(allow_blank=True, default="")
    grade = serializers.IntegerField(
        min_value=1, max_value=3, allow_null=True, default=None, help_text="Incidents: 1–3."
    )
    system = cached_system_field(allow_null=True, default=None)
    category = cached_category_field(allow_null=True, default=None)
    tags = tags_field(default=list)
    requester = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        allow_null=True,
        default=None,
        help_text="The requester's user id (desk only; a requester always files for himself).",
    )
    requester_name = serializers.CharField(max_length=100, allow_blank=True, default="")
    requester_department = serializers.CharField(max_length=100, allow_blank=True, default="")
    requester_phone = serializers.CharField(max_length=50, allow_blank=True, default="")
    requester_email = serializers.EmailField(allow_blank=True, default="")
    reported_at = serializers.DateTimeField(
        allow_null=True, default=None, help_text="Defaults to now; must not be in the future."
    )
    resolution_due = serializers.DateTimeField(
        allow_null=True, default=None, help_text="Tasks only: the due date."
    )


class TicketUpdateInput(VersionInput):
    title = serializers.CharField(max_length=200, required=False)
    kind = serializers.ChoiceField(choices=Kind.choices, required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    description = serializers.CharField(allow_blank=True, required=False)
    system = CodeRelatedField(
        queryset=BusinessSystem.objects.active(), allow_null=True, required=False
    )
    category = category_field(allow_null=True, required=False)
    tags = tags_field(required=False, help_text="Replaces the ticket's tags.")
    requester_name = serializers.CharField(max_length=100, allow_blank=True, required=False)
    requester_department = serializers.CharField(max_length=100, allow_blank=True, required=False)
    requester_phone = serializers.CharField(max_length=50, allow_blank=True, required=False)
    requester_email = serializers.EmailField(allow_blank=True, required=False)


class AssignInput(VersionInput):
    vendor = CodeRelatedField(queryset=Vendor.objects.all())
    engineer = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        allow_null=True,
        default=None,
        help_text="Optional: a user id of the vendor's staff.",
    )
    note = serializers.CharField(max_length=500, allow_blank=True, default="")


class ReasonInput(VersionInput):
    reason = serializers.CharField(max_length=500)


class ResolveInput(VersionInput):
    resolution = serializers.CharField()
    resolution_code = serializers.ChoiceField(
        choices=ResolutionCode.choices, default=ResolutionCode.FIXED
    )


class CloseInput(VersionInput):
    note = serializers.CharField(max_length=500, allow_blank=True, default="")


class RegradeInput(VersionInput):
    grade = serializers.IntegerField(min_value=1, max_value=3)
    reason = serializers.CharField(max_length=500)


class LinkInput(InputSerializer):
    target = serializers.IntegerField(min_value=1, help_text="The other ticket's id.")
    kind = serializers.ChoiceField(choices=LINK_CHOICES)
    note = serializers.CharField(max_length=500, allow_blank=True, default="")


class CommentInput(InputSerializer):
    body = serializers.CharField()
    internal = serializers.BooleanField(
        default=False, help_text="An internal note: never shown to requesters."
    )


class AttachmentInput(InputSerializer):
    file = serializers.FileField()
    internal = serializers.BooleanField(
        default=False, help_text="Internal: never shown to requesters (who may not set it)."
    )
