"""New deadlines for open tickets after their business calendar changed."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from sla import selectors as sla_selectors
from sla import services as sla
from tickets.events import diff, event_record
from tickets.models import (
    OPEN_STATUSES,
    EventAction,
    Ticket,
)

DEADLINE_FIELDS = ("response_due", "paused_working_seconds", "resolution_due")
RECOMPUTE_BATCH_SIZE = 500


def ticket_deadlines_recompute(*, ticket_id: int, now: datetime, note: str) -> bool:
    """Recompute an open ticket's deadlines after its calendar changed (a holiday, a make-up
    day, working hours), as ``sla_ticket_reclassified`` computes them on a regrade.

    Writes nothing when they come out the same; otherwise saves them, bumps the version,
    reschedules the escalation levels and records an ``updated`` event (old → new, ``note``).
    Returns whether the ticket changed.
    """
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update(no_key=True).filter(pk=ticket_id).first()
        if ticket is None or ticket.status not in OPEN_STATUSES:
            return False
        before = {name: getattr(ticket, name) for name in DEADLINE_FIELDS}
        recomputed = sla.sla_deadlines(ticket=ticket)
        if all(before[name] == value for name, value in recomputed.items()):
            return False
        changed = sla.sla_ticket_reclassified(ticket=ticket)
        ticket.version += 1
        ticket.save(update_fields=[*changed, "version", "updated_at"])
        after = {name: getattr(ticket, name) for name in DEADLINE_FIELDS if name in changed}
        event_record(
            ticket=ticket,
            actor=None,
            action=EventAction.UPDATED,
            at=now,
            changes=diff(before, after),
            note=note,
        )
    return True


def tickets_deadlines_recompute(*, calendar_code: str, now: datetime) -> int:
    """After ``calendar_code`` changed: recompute the open tickets its policies time.

    Each ticket in its own transaction (``ticket_deadlines_recompute``), the open tickets read
    in id batches; returns how many changed.
    """
    note = _("工作日历“%(calendar)s”已调整，按新日历重算时限。") % {"calendar": calendar_code}
    changed, last_id = 0, 0
    while True:
        batch = list(
            Ticket.objects.filter(status__in=OPEN_STATUSES, pk__gt=last_id)
            .order_by("pk")
            .values_list("pk", "kind", "grade", "system_id")[:RECOMPUTE_BATCH_SIZE]
        )
        if not batch:
            return changed
        last_id = batch[-1][0]
        for pk, kind, grade, system_id in batch:
            policy = sla_selectors.policy_for(kind, grade, system_id)
            if policy is not None and policy.calendar_code == calendar_code:
                changed += ticket_deadlines_recompute(ticket_id=pk, now=now, note=note)
