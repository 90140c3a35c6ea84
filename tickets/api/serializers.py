"""Output serializers of the ticket API: a ticket (list row and detail), its comments,
attachments and history, and the domain-error shape used in the schema.

Input and output serializers are separate (``tickets.api.inputs`` parses requests); these only
represent. Systems, vendors and categories appear by ``code``.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.reverse import reverse

from tickets import selectors, services
from tickets.models import Ticket, TicketAttachment, TicketComment, TicketEvent

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
