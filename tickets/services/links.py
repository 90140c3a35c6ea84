"""Links between tickets: duplicate of, caused by, related."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from opsdesk import clock
from opsdesk.errors import InvalidTransition, ValidationFailed
from tickets import access
from tickets.access import Action
from tickets.events import diff, event_record
from tickets.models import (
    LINK_CHOICES,
    LINK_DUPLICATE_OF,
    EventAction,
    Ticket,
    TicketLink,
)


@transaction.atomic
def ticket_link(*, actor, ticket_id, target_id, kind: str, note: str = "") -> Ticket:
    """Relate two tickets: ``duplicate_of`` (this repeats the target), ``caused_by``, ``related``.

    Desk only. Both tickets must be visible to the actor; locks are taken in primary-key order
    so that two desks linking the same pair in opposite directions cannot deadlock.
    """
    if kind not in dict(LINK_CHOICES):
        raise ValidationFailed(_("未知的关联类型。"), field="kind")
    if str(ticket_id) == str(target_id):
        raise ValidationFailed(_("工单不能关联自身。"), field="target")
    first, second = sorted([int(ticket_id), int(target_id)])
    locked = {pk: access.access_ticket(actor, pk, for_update=True) for pk in (first, second)}
    ticket, target = locked[int(ticket_id)], locked[int(target_id)]
    access.require_action(actor, ticket, Action.EDIT)
    now = clock.now()
    if kind == LINK_DUPLICATE_OF:
        if target.duplicate_of_id == ticket.pk:
            raise ValidationFailed(_("两张工单不能互为重复。"), field="target")
        if ticket.duplicate_of_id == target.pk:
            raise InvalidTransition(_("已标记为该工单的重复。"))
        before = {"duplicate_of": ticket.duplicate_of}
        ticket.duplicate_of = target
        ticket.version += 1
        ticket.save(update_fields=["duplicate_of", "version", "updated_at"])
        changes = diff(before, {"duplicate_of": target})
    else:
        _link, created = TicketLink.objects.get_or_create(
            source=ticket, target=target, kind=kind, defaults={"created_by": actor}
        )
        if not created:
            raise InvalidTransition(_("该关联已存在。"))
        changes = {kind: [None, target.number]}
    event_record(
        ticket=ticket, actor=actor, action=EventAction.LINKED, at=now, changes=changes, note=note
    )
    return ticket
