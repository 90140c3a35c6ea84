"""The ticket REST API (``/api/v1/tickets/``): serializers and one thin viewset.

Reads go through ``tickets.selectors``, writes through ``tickets.services`` (and
``tickets.attachments``); ``DomainError`` becomes HTTP in ``opsdesk.errors`` only. Input and
output serializers are separate: input serializers only parse and type-check, the services
decide. Systems, vendors and categories are referenced by ``code``.

Every write on an existing ticket first loads it through ``tickets.access`` so that another
vendor's ticket is a 404 and a read-only role gets a 403 before the body is even looked at;
the service repeats both checks under the row lock.

Optimistic concurrency: a ticket's representation carries ``version`` and the detail
responses an ``ETag: W/"<version>"``. ``PATCH`` and transitions accept the version back as
``If-Match`` and/or a ``version`` body field; a stale one is ``409 {"code": "stale_version"}``
(409 rather than 412 so that clients handle one conflict shape for both forms).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from django.core.cache import cache
from django.db.models import F
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.filters import BaseFilterBackend
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.viewsets import GenericViewSet

from directory.models import BusinessSystem, User, Vendor
from opsdesk.errors import ValidationFailed
from tickets import access, attachments, selectors, services
from tickets.access import Action
from tickets.filters import TicketFilter
from tickets.models import (
    LINK_CHOICES,
    Category,
    Channel,
    Kind,
    ResolutionCode,
    Ticket,
    TicketAttachment,
    TicketComment,
    TicketEvent,
)
from tickets.services import TicketInput

# ---------------------------------------------------------------------------------------------
# Output serializers


# One reusable field: DRF's own ISO 8601 rendering in the current zone (+08:00, never "Z").
_DATETIME = serializers.DateTimeField(read_only=True)


class TicketSerializer(serializers.ModelSerializer):
    """A ticket as a list row. Times are ISO 8601 in the server's zone (+08:00)."""

    system = serializers.SlugRelatedField(slug_field="code", read_only=True)
    category = serializers.SlugRelatedField(slug_field="code", read_only=True)
    vendor = serializers.SlugRelatedField(slug_field="code", read_only=True)
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    engineer_name = serializers.CharField(
        source="engineer.display_name", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Ticket
        fields = [
            "id",
            "number",
            "version",
            "kind",
            "title",
            "description",
            "channel",
            "grade",
            "system",
            "category",
            "tags",
            "status",
            "vendor",
            "engineer",
            "engineer_name",
            "requester",
            "requester_name",
            "requester_department",
            "requester_phone",
            "requester_email",
            "reported_at",
            "assigned_at",
            "responded_at",
            "resolved_at",
            "closed_at",
            "response_due",
            "resolution_due",
            "resolution_code",
            "resolution",
            "first_line_resolution",
            "pending_reason",
            "cancel_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, ticket: Ticket) -> dict[str, Any]:
        """The fields above, read straight from the instance.

        A ModelSerializer builds its ~35 fields anew for every serializer it instantiates
        (~7 ms), which dominated ticket creation over the API. The declared fields still
        describe the schema; ``tests/tickets/test_api_representation.py`` holds this method to
        DRF's field-by-field output. Relations must be loaded (``selectors.ticket_list``).
        """
        time = _DATETIME.to_representation
        engineer = ticket.engineer
        return {
            "id": ticket.pk,
            "number": ticket.number,
            "version": ticket.version,
            "kind": str(ticket.kind),
            "title": ticket.title,
            "description": ticket.description,
            "channel": str(ticket.channel),
            "grade": None if ticket.grade is None else int(ticket.grade),
            "system": _code(ticket.system),
            "category": _code(ticket.category),
            "tags": self._tag_names(ticket),
            "status": str(ticket.status),
            "vendor": _code(ticket.vendor),
            "engineer": ticket.engineer_id,
            "engineer_name": None if engineer is None else engineer.display_name,
            "requester": ticket.requester_id,
            "requester_name": ticket.requester_name,
            "requester_department": ticket.requester_department,
            "requester_phone": ticket.requester_phone,
            "requester_email": ticket.requester_email,
            "reported_at": time(ticket.reported_at),
            "assigned_at": time(ticket.assigned_at),
            "responded_at": time(ticket.responded_at),
            "resolved_at": time(ticket.resolved_at),
            "closed_at": time(ticket.closed_at),
            "response_due": time(ticket.response_due),
            "resolution_due": time(ticket.resolution_due),
            "resolution_code": str(ticket.resolution_code),
            "resolution": ticket.resolution,
            "first_line_resolution": bool(ticket.first_line_resolution),
            "pending_reason": ticket.pending_reason,
            "cancel_reason": ticket.cancel_reason,
            "created_at": time(ticket.created_at),
            "updated_at": time(ticket.updated_at),
        }

    def _tag_names(self, ticket: Ticket) -> list[str]:
        if self.context.get("without_tags"):
            return []  # a ticket the caller has just created without tags: nothing to read
        return [tag.name for tag in ticket.tags.all()]


def _code(related) -> str | None:
    return None if related is None else related.code


class TicketDetailSerializer(TicketSerializer):
    """A ticket with what the requesting user may do with it now."""

    allowed_actions = serializers.SerializerMethodField()
    duplicate_of = serializers.PrimaryKeyRelatedField(
        read_only=True, help_text="The id of the ticket this one repeats, if any."
    )
    links = serializers.SerializerMethodField(
        help_text='[{"kind": "caused_by"|"related", "direction": "out"|"in", "ticket": id, '
        '"number": "..."}] — "out": this ticket → the other.'
    )

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "duplicate_of", "links", "allowed_actions"]
        read_only_fields = fields

    def get_allowed_actions(self, ticket: Ticket) -> list[str]:
        return services.allowed_actions(self.context["request"].user, ticket)

    def get_links(self, ticket: Ticket) -> list[dict[str, Any]]:
        if self.context.get("new_ticket"):
            return []  # just created: nothing can link to it yet, so skip both queries
        user = self.context["request"].user
        return [
            {"kind": kind, "direction": direction, "ticket": other.pk, "number": other.number}
            for kind, direction, other in selectors.links_for(user, ticket)
        ]

    def to_representation(self, ticket: Ticket) -> dict[str, Any]:
        data = super().to_representation(ticket)
        data["duplicate_of"] = ticket.duplicate_of_id
        data["links"] = self.get_links(ticket)
        data["allowed_actions"] = self.get_allowed_actions(ticket)
        return data


class CommentSerializer(serializers.ModelSerializer):
    author_name = serializers.CharField(
        source="author.display_name", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = TicketComment
        fields = ["id", "author", "author_name", "body", "internal", "created_at"]
        read_only_fields = fields


class AttachmentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", read_only=True)
    uploaded_by_name = serializers.CharField(
        source="uploaded_by.display_name", read_only=True, allow_null=True, default=None
    )
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = TicketAttachment
        fields = [
            "id",
            "name",
            "content_type",
            "size",
            "internal",
            "uploaded_by",
            "uploaded_by_name",
            "created_at",
            "download_url",
        ]
        read_only_fields = fields

    def get_download_url(self, attachment: TicketAttachment) -> str:
        return reverse(
            "tickets:attachment-download",
            args=[attachment.pk],
            request=self.context.get("request"),
        )


class EventSerializer(serializers.ModelSerializer):
    """One history row; ``changes`` is ``{field: [old, new]}``."""

    actor_name = serializers.CharField(
        source="actor.display_name", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = TicketEvent
        fields = [
            "id",
            "at",
            "action",
            "actor",
            "actor_name",
            "from_status",
            "to_status",
            "changes",
            "note",
        ]
        read_only_fields = fields


class ErrorSerializer(serializers.Serializer):
    """A domain error: ``code`` is stable (``invalid_transition``, ``stale_version``, …)."""

    code = serializers.CharField()
    detail = serializers.CharField()
    field = serializers.CharField(required=False)


# ---------------------------------------------------------------------------------------------
# Input serializers: parse and type-check only; the services validate the business rules.


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


# ---------------------------------------------------------------------------------------------
# Ordering


class TicketOrdering(BaseFilterBackend):
    """``?ordering=`` over a whitelist, comma-separated, ``-`` for descending; default ``-id``.

    Unknown names are a 400 rather than silently ignored. ``id`` breaks ties so that pages are
    stable; empty deadlines sort last in both directions on every database.
    """

    param = "ordering"
    fields = {
        "number": "id",
        "reported_at": "reported_at",
        "updated_at": "updated_at",
        "resolution_due": "resolution_due",
        "grade": "grade",
    }

    def filter_queryset(self, request, queryset, view):
        raw = request.query_params.get(self.param, "")
        terms = [term.strip() for term in raw.split(",") if term.strip()]
        order: list = []
        descending = True  # the tie-breaker's direction: the last term's, so an index serves both
        for term in terms:
            column = self.fields.get(term.removeprefix("-"))
            if column is None:
                raise serializers.ValidationError(
                    {self.param: [_("不支持的排序字段：%(name)s") % {"name": term}]}
                )
            descending = term.startswith("-")
            # NULLS LAST only where there can be NULLs: spelled out on a NOT NULL column it
            # still keeps PostgreSQL from reading its index backwards (610 ms on 1M tickets).
            nulls = {"nulls_last": True} if Ticket._meta.get_field(column).null else {}
            order.append(F(column).desc(**nulls) if descending else F(column).asc(**nulls))
        if not any(term.removeprefix("-") == "number" for term in terms):
            order.append(F("id").desc() if descending else F("id").asc())
        return queryset.order_by(*order)

    def get_schema_operation_parameters(self, view):
        choices = [name for field in self.fields for name in (field, f"-{field}")]
        return [
            {
                "name": self.param,
                "required": False,
                "in": "query",
                "description": "Comma-separated sort keys, `-` for descending; default `-number`. "
                f"One of: {', '.join(choices)}.",
                "schema": {"type": "string"},
            }
        ]


# ---------------------------------------------------------------------------------------------
# Concurrency helpers

_IF_MATCH = re.compile(r'^\s*(?:W/)?(?:"(\d+)"|(\d+))\s*$')

IF_MATCH_PARAMETER = OpenApiParameter(
    name="If-Match",
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description='The ticket\'s ETag (`W/"<version>"`; `"<version>"` or the bare number work too). '
    "A stale version is 409 with code stale_version; `*` or no header: no check.",
)
ETAG_HEADER = OpenApiParameter(
    name="ETag",
    type=str,
    location=OpenApiParameter.HEADER,
    response=[200, 201],
    description='W/"<version>": send it back as If-Match.',
)


def if_match_version(request: Request) -> int | None:
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    match = _IF_MATCH.match(header)
    if match is None:
        raise ValidationFailed(_('If-Match 格式应为 W/"<版本号>"。'), field="If-Match")
    return int(match.group(1) or match.group(2))


def expected_version(request: Request, body_version: int | None) -> int | None:
    """The version the client claims to have seen, from ``If-Match`` and/or the body."""
    header_version = if_match_version(request)
    if header_version is not None and body_version is not None and header_version != body_version:
        raise ValidationFailed(_("If-Match 与 version 不一致。"), field="version")
    return header_version if header_version is not None else body_version


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    described = {
        400: OpenApiResponse(
            OpenApiTypes.OBJECT,
            description="Invalid input: the body names each bad field, "
            '`{"<field>": ["message"]}` (domain checks add `code`, `detail` and `field`).',
        ),
        403: OpenApiResponse(ErrorSerializer, description="Your role may not do this."),
        404: OpenApiResponse(ErrorSerializer, description="No such ticket, or not visible to you."),
        409: OpenApiResponse(
            ErrorSerializer,
            description="`invalid_transition` (not allowed in the ticket's state) or "
            "`stale_version` (the ticket changed since the version you sent).",
        ),
    }
    return {code: described[code] for code in codes}


def transition_schema(summary: str, request: type[serializers.Serializer]):
    return extend_schema(
        summary=summary,
        request=request,
        parameters=[IF_MATCH_PARAMETER, ETAG_HEADER],
        responses={200: TicketDetailSerializer, **error_responses(400, 403, 404, 409)},
        tags=["tickets"],
    )


# ---------------------------------------------------------------------------------------------
# The viewset


@extend_schema_view(
    list=extend_schema(
        summary="List the tickets you may see",
        responses={200: TicketSerializer(many=True), **error_responses(400)},
        tags=["tickets"],
    ),
    retrieve=extend_schema(
        summary="A ticket, with the actions you may take",
        parameters=[ETAG_HEADER],
        responses={200: TicketDetailSerializer, **error_responses(404)},
        tags=["tickets"],
    ),
    create=extend_schema(
        summary="Log a ticket (kind defaults to incident, channel to api)",
        request=TicketCreateInput,
        parameters=[ETAG_HEADER],
        responses={201: TicketDetailSerializer, **error_responses(400, 403)},
        tags=["tickets"],
    ),
    partial_update=extend_schema(
        summary="Edit descriptive fields (desk only, open tickets)",
        request=TicketUpdateInput,
        parameters=[IF_MATCH_PARAMETER, ETAG_HEADER],
        responses={200: TicketDetailSerializer, **error_responses(400, 403, 404, 409)},
        tags=["tickets"],
    ),
)
class TicketViewSet(GenericViewSet):
    queryset = Ticket.objects.none()  # for schema introspection; get_queryset() scopes
    serializer_class = TicketSerializer
    filter_backends = [DjangoFilterBackend, TicketOrdering]
    filterset_class = TicketFilter

    def get_queryset(self):
        return selectors.ticket_list(self.request.user).prefetch_related("tags")

    # -- helpers ------------------------------------------------------------------------------

    def _input(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def _ticket_for(self, action_name: str | None = None) -> Ticket:
        """The ticket if visible (else 404) and, for a write, if the role allows it (else 403)."""
        ticket = access.access_ticket(self.request.user, self.kwargs["pk"])
        if action_name is not None:
            access.require_action(self.request.user, ticket, action_name)
        return ticket

    def _version(self, data: dict[str, Any]) -> int | None:
        return expected_version(self.request, data.pop("version", None))

    def _detail(self, pk, *, status_code: int = status.HTTP_200_OK) -> Response:
        return self._represent(selectors.ticket_detail(self.request.user, pk), status_code)

    def _represent(
        self,
        ticket: Ticket,
        status_code: int = status.HTTP_200_OK,
        *,
        new: bool = False,
        without_tags: bool = False,
    ) -> Response:
        context = {**self.get_serializer_context(), "new_ticket": new, "without_tags": without_tags}
        serializer = TicketDetailSerializer(ticket, context=context)
        response = Response(serializer.data, status=status_code)
        response["ETag"] = f'W/"{ticket.version}"'
        return response

    def _page(self, queryset, serializer_class) -> Response:
        page = self.paginate_queryset(queryset)
        serializer = serializer_class(page, many=True, context=self.get_serializer_context())
        return self.get_paginated_response(serializer.data)

    # -- the ticket ---------------------------------------------------------------------------

    def list(self, request: Request) -> Response:
        return self._page(self.filter_queryset(self.get_queryset()), TicketSerializer)

    def retrieve(self, request: Request, pk=None) -> Response:
        return self._detail(pk)

    def create(self, request: Request) -> Response:
        data = self._input(TicketCreateInput)
        ticket = services.ticket_create(actor=request.user, data=TicketInput(**data))
        # Answer from the instance the service saved (its relations are the ones given, no
        # engineer or vendor yet) instead of reading the row back: three queries less. Tags
        # are read back only if some were given.
        response = self._represent(
            ticket, status.HTTP_201_CREATED, new=True, without_tags=not data["tags"]
        )
        response["Location"] = reverse("api:ticket-detail", args=[ticket.pk], request=request)
        return response

    def partial_update(self, request: Request, pk=None) -> Response:
        self._ticket_for(Action.EDIT)
        data = self._input(TicketUpdateInput)
        version = self._version(data)
        tags = data.pop("tags", None)
        services.ticket_update(
            actor=request.user, ticket_id=pk, changes=data, expected_version=version, tags=tags
        )
        return self._detail(pk)

    # -- transitions --------------------------------------------------------------------------

    @transition_schema(
        "Dispatch (派单) to a vendor by code, optionally to an engineer", AssignInput
    )
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk=None) -> Response:
        self._ticket_for(Action.ASSIGN)
        data = self._input(AssignInput)
        services.ticket_assign(
            actor=request.user,
            ticket_id=pk,
            vendor=data["vendor"],
            engineer=data["engineer"],
            note=data["note"],
            expected_version=self._version(data),
        )
        return self._detail(pk)

    @transition_schema("Accept (接单): the vendor's first response", VersionInput)
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk=None) -> Response:
        self._ticket_for(Action.ACCEPT)
        data = self._input(VersionInput)
        services.ticket_accept(
            actor=request.user, ticket_id=pk, expected_version=self._version(data)
        )
        return self._detail(pk)

    @transition_schema("Start work (开始处理)", VersionInput)
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk=None) -> Response:
        self._ticket_for(Action.START)
        data = self._input(VersionInput)
        services.ticket_start(
            actor=request.user, ticket_id=pk, expected_version=self._version(data)
        )
        return self._detail(pk)

    @transition_schema("Pend (挂起) with a reason: the resolution clock stops", ReasonInput)
    @action(detail=True, methods=["post"])
    def pend(self, request: Request, pk=None) -> Response:
        self._ticket_for(Action.PEND)
        data = self._input(ReasonInput)
        services.ticket_pend(
            actor=request.user,
            ticket_id=pk,
            reason=data["reason"],
            expected_version=self._version(data),
        )
        return self._detail(pk)

    @transition_schema("Resume (恢复处理) a pended ticket", VersionInput)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk=None) -> Response:
        self._ticket_for(Action.RESUME)
        data = self._input(VersionInput)
        services.ticket_resume(
            actor=request.user, ticket_id=pk, expected_version=self._version(data)
        )
        return self._detail(pk)

    @transition_schema("Resolve (解决) with a resolution", ResolveInput)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk=None) -> Response:
        self._ticket_for(Action.RESOLVE)
        data = self._input(ResolveInput)
        services.ticket_resolve(
            actor=request.user,
            ticket_id=pk,
            resolution=data["resolution"],
            resolution_code=data["resolution_code"],
            expected_version=self._version(data),
        )
        return self._detail(pk)

    @transition_schema("Close (关闭) a resolved ticket", CloseInput)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk=None) -> Response:
        self._ticket_for(Action.CLOSE)
        data = self._input(CloseInput)
        services.ticket_close(
            actor=request.user,
            ticket_id=pk,
            note=data["note"],
            expected_version=self._version(data),
        )
        return self._detail(pk)

    @transition_schema("Reopen (重新打开) within the reopen window, with a reason", ReasonInput)
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk=None) -> Response:
        self._ticket_for(Action.REOPEN)
        data = self._input(ReasonInput)
        services.ticket_reopen(
            actor=request.user,
            ticket_id=pk,
            reason=data["reason"],
            expected_version=self._version(data),
        )
        return self._detail(pk)

    @transition_schema("Cancel (取消) with a reason", ReasonInput)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk=None) -> Response:
        self._ticket_for(Action.CANCEL)
        data = self._input(ReasonInput)
        services.ticket_cancel(
            actor=request.user,
            ticket_id=pk,
            reason=data["reason"],
            expected_version=self._version(data),
        )
        return self._detail(pk)

    @transition_schema("Regrade (调整级别) an incident, with a reason", RegradeInput)
    @action(detail=True, methods=["post"])
    def regrade(self, request: Request, pk=None) -> Response:
        self._ticket_for(Action.REGRADE)
        data = self._input(RegradeInput)
        services.ticket_regrade(
            actor=request.user,
            ticket_id=pk,
            grade=data["grade"],
            reason=data["reason"],
            expected_version=self._version(data),
        )
        return self._detail(pk)

    @transition_schema(
        "Link (关联) to another ticket: duplicate_of, caused_by or related", LinkInput
    )
    @action(detail=True, methods=["post"])
    def link(self, request: Request, pk=None) -> Response:
        self._ticket_for(Action.EDIT)
        data = self._input(LinkInput)
        services.ticket_link(
            actor=request.user,
            ticket_id=pk,
            target_id=data["target"],
            kind=data["kind"],
            note=data["note"],
        )
        return self._detail(pk)

    # -- comments, attachments, history -------------------------------------------------------

    @extend_schema(
        summary="Comments (internal notes only for desk, vendors and oversight)",
        responses={200: CommentSerializer(many=True), **error_responses(404)},
        tags=["tickets"],
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def comments(self, request: Request, pk=None) -> Response:
        ticket = self._ticket_for()
        return self._page(selectors.comments_for(request.user, ticket), CommentSerializer)

    @extend_schema(
        summary="Add a comment or an internal note",
        request=CommentInput,
        responses={201: CommentSerializer, **error_responses(400, 403, 404)},
        tags=["tickets"],
    )
    @comments.mapping.post
    def comment_add(self, request: Request, pk=None) -> Response:
        self._ticket_for(Action.COMMENT)
        data = self._input(CommentInput)
        comment = services.comment_add(
            actor=request.user, ticket_id=pk, body=data["body"], internal=data["internal"]
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Attachments (internal ones only for desk, vendors and oversight)",
        responses={200: AttachmentSerializer(many=True), **error_responses(404)},
        tags=["tickets"],
    )
    @action(
        detail=True,
        methods=["get"],
        filter_backends=[],
        parser_classes=[MultiPartParser, FormParser],
    )
    def attachments(self, request: Request, pk=None) -> Response:
        ticket = self._ticket_for()
        return self._page(selectors.attachments_for(request.user, ticket), AttachmentSerializer)

    @extend_schema(
        summary="Upload an attachment (multipart: file, internal)",
        description="Size and type limits come from OPSDESK_ATTACHMENT_MAX_BYTES and "
        "OPSDESK_ATTACHMENT_CONTENT_TYPES; the declared type, the extension and the leading "
        "bytes must agree. Requesters may not upload internal attachments.",
        request={"multipart/form-data": AttachmentInput},
        responses={201: AttachmentSerializer, **error_responses(400, 403, 404)},
        tags=["tickets"],
    )
    @attachments.mapping.post
    def attachment_add(self, request: Request, pk=None) -> Response:
        self._ticket_for(Action.ATTACH)
        data = self._input(AttachmentInput)
        attachment = attachments.attachment_add(
            actor=request.user, ticket_id=pk, upload=data["file"], internal=data["internal"]
        )
        serializer = AttachmentSerializer(attachment, context=self.get_serializer_context())
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="History (操作记录), oldest first",
        responses={200: EventSerializer(many=True), **error_responses(404)},
        tags=["tickets"],
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def history(self, request: Request, pk=None) -> Response:
        ticket = self._ticket_for()
        return self._page(selectors.events_for(request.user, ticket), EventSerializer)
