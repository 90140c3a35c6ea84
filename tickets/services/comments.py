"""Public replies and internal notes on a ticket."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from opsdesk import clock
from opsdesk.errors import ValidationFailed
from tickets import access
from tickets.access import Action
from tickets.events import event_record
from tickets.models import (
    EventAction,
    Ticket,
    TicketComment,
)


@transaction.atomic
def comment_add(*, actor, ticket_id, body: str, internal: bool = False) -> TicketComment:
    body = (body or "").strip()
    if not body:
        raise ValidationFailed(_("评论内容不能为空。"), field="body")
    ticket = access.access_ticket(actor, ticket_id, for_update=True)
    access.require_action(actor, ticket, Action.COMMENT_INTERNAL if internal else Action.COMMENT)
    now = clock.now()
    comment = TicketComment.objects.create(
        ticket=ticket, author=actor, body=body, internal=internal, created_at=now
    )
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=now)
    event_record(
        ticket=ticket,
        actor=actor,
        action=EventAction.NOTED if internal else EventAction.COMMENTED,
        at=now,
    )
    return comment
