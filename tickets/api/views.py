"""The ticket viewset (``/api/v1/tickets/``), its optimistic-concurrency helpers and the
OpenAPI schema pieces they share.

Every write on an existing ticket first loads it through ``tickets.access`` so that another
vendor's ticket is a 404 and a read-only role gets a 403 before the body is even looked at;
the service repeats both checks under the row lock.

Optimistic concurrency: a ticket's representation carries ``version`` and the detail
responses an ``ETag: W/"<version>"``. ``PATCH`` and transitions accept the version back as
``If-Match`` and/or a ``version`` body field; a stale one is ``409 {"code": "stale_version"}``
(409 rather than 412 so that clients handle one conflict shape for both forms).
"""

from __future__ import annotations

import re
from typing import Any

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
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.viewsets import GenericViewSet

from opsdesk.errors import ValidationFailed
from tickets import access, attachments, selectors, services
from tickets.access import Action
from tickets.api.inputs import (
    AssignInput,
    AttachmentInput,
    CloseInput,
    CommentInput,
    LinkInput,
    ReasonInput,
    RegradeInput,
    ResolveInput,
    TicketCreateInput,
    TicketUpdateInput,
    VersionInput,
)
from tickets.api.ordering import TicketOrdering
from tickets.api.serializers import (
    AttachmentSerializer,
    CommentSerializer,
    ErrorSerializer,
    EventSerializer,
    TicketDetailSerializer,
    TicketSerializer,
)
from tickets.filters import TicketFilter
from tickets.models import Ticket
from tickets.services import TicketInput

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
