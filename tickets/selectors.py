"""Ticket reads: querysets with their joins applied, scoped by ``tickets.access``."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, Prefetch, Q, QuerySet

from directory import roles
from directory.models import BusinessSystem, Vendor
from tickets import access
from tickets.models import (
    Category,
    EventAction,
    Status,
    Ticket,
    TicketComment,
    TicketEvent,
)

LIST_RELATED = ("system", "vendor", "engineer", "category")

# Columns a list may be sorted by: (field, descending by default).
SORTS = {
    "number": ("id", True),
    "reported_at": ("reported_at", True),
    "updated_at": ("updated_at", True),
    "resolution_due": ("resolution_due", False),
    "response_due": ("response_due", False),
    "grade": ("grade", False),
    "status": ("status", False),
}
DEFAULT_SORT = "number"
# "Breaching soon": a deadline within this many minutes (or already passed).
BREACHING_SOON_MINUTES = 60


def ticket_list(user) -> QuerySet[Ticket]:
    """Every ticket the user may see, with the relations a list row shows."""
    return access.visible_tickets(user).select_related(*LIST_RELATED)


# A whole ticket number as the desk types it: INC-2026-000123 (any case, spaces around; the
# counter outgrows six digits after a million tickets of one kind in a year).
_NUMBER = re.compile(r"\s*([A-Za-z]{3}-\d{4}-\d{6,})\s*")


def ticket_id_by_number(user, text: str) -> int | None:
    """The id of the visible ticket whose number ``text`` is, else None (one indexed lookup).

    A caller reads a number off an SMS or an e-mail: the list's search jumps straight to it.
    """
    match = _NUMBER.fullmatch(text or "")
    if match is None:
        return None
    number = match.group(1).upper()
    return access.visible_tickets(user).filter(number=number).values_list("pk", flat=True).first()


def ticket_detail(user, pk) -> Ticket:
    # Few joins on purpose: each extra join of this wide, much-indexed table costs PostgreSQL
    # milliseconds of planning on every request (the requester and duplicate load lazily).
    qs = Ticket.objects.select_related(*LIST_RELATED, "owner")
    qs = qs.prefetch_related("tags", "dispatches__vendor", "dispatches__engineer")
    return access.access_ticket(user, pk, queryset=qs)


def comments_for(user, ticket: Ticket) -> QuerySet[TicketComment]:
    qs = ticket.comments.select_related("author").prefetch_related("attachments")
    return qs if access.can_see_internal(user) else qs.public()


def attachments_for(user, ticket: Ticket):
    qs = ticket.attachments.select_related("uploaded_by")
    return qs if access.can_see_internal(user) else qs.filter(internal=False)


def events_for(user, ticket: Ticket) -> QuerySet[TicketEvent]:
    """The timeline. Requesters do not see that an internal note or file was added."""
    qs = ticket.events.select_related("actor").order_by("at", "id")
    if not access.can_see_internal(user):
        qs = qs.exclude(action=EventAction.NOTED)
        # tickets.attachments marks the event of an internal file with an "internal" change.
        qs = qs.exclude(action=EventAction.ATTACHED, changes__has_key="internal")
    return qs


def ticket_with_comments(user, pk) -> Ticket:
    ticket = ticket_detail(user, pk)
    prefetch = Prefetch("comments", queryset=comments_for(user, ticket))
    return Ticket.objects.prefetch_related(prefetch).get(pk=ticket.pk)


@dataclass(frozen=True)
class QueueCounts:
    unassigned: int
    mine: int
    breaching_soon: int
    pending: int
    grade_1: int
    grade_2: int
    grade_3: int
    open: int


def queue_counts(user, *, now: datetime) -> QueueCounts:
    """Counts of the desk queues over the user's open tickets, in one aggregate query."""
    horizon = now + timedelta(minutes=BREACHING_SOON_MINUTES)
    breaching = Q(responded_at__isnull=True, response_due__lte=horizon) | (
        Q(resolution_due__lte=horizon) & ~Q(status=Status.PENDING)
    )
    totals = (
        access.visible_tickets(user)
        .open()
        .aggregate(
            unassigned=Count("id", filter=Q(status=Status.NEW)),
            mine=Count("id", filter=Q(owner_id=user.pk) | Q(engineer_id=user.pk)),
            breaching_soon=Count("id", filter=breaching),
            pending=Count("id", filter=Q(status=Status.PENDING)),
            grade_1=Count("id", filter=Q(grade=1)),
            grade_2=Count("id", filter=Q(grade=2)),
            grade_3=Count("id", filter=Q(grade=3)),
            open=Count("id"),
        )
    )
    return QueueCounts(**totals)


QUEUES = ("unassigned", "mine", "breaching_soon", "pending", "grade_1", "grade_2", "grade_3")


def apply_queue(qs: QuerySet[Ticket], queue: str | None, user, *, now: datetime):
    """Narrow a list to one of the desk home's queues."""
    if not queue:
        return qs
    if queue == "unassigned":
        return qs.filter(status__literal_in=[Status.NEW])
    if queue == "mine":
        return qs.open().filter(Q(owner_id=user.pk) | Q(engineer_id=user.pk))
    if queue == "breaching_soon":
        return qs.breaching(at=now, within_minutes=BREACHING_SOON_MINUTES)
    if queue == "pending":
        return qs.filter(status__literal_in=[Status.PENDING])
    if queue.startswith("grade_") and queue[-1] in "123":
        return qs.open().filter(grade__literal_in=[int(queue[-1])])
    return qs


@dataclass(frozen=True)
class ListOptions:
    """The choices of the ticket list's filter bar and bulk bar, as plain rows."""

    systems: tuple[tuple[str, str], ...]  # (code, name) of every system, by name
    vendors: tuple[tuple[str, str], ...]  # (code, name) of every vendor, by name
    categories: tuple[tuple[str, str], ...]  # (code, name) of every category, by name
    dispatch_vendors: tuple[tuple[int, str], ...]  # (pk, name) of the active vendors, by code
    # A new value each time the lists are read from the database: HTML cached from these lists
    # (the list page's filter bar) keys on it and so never outlives them.
    version: str = ""


# The lists change a few times a year (admin edits) but cost four queries on every list page.
# A copy is at most this old in each process: a new system reaches the filter bar within a
# minute, and a vendor deactivated meanwhile is still offered for dispatch but refused by
# ticket_assign. Filtering itself always validates against the database.
LIST_OPTIONS_CACHE_KEY = "tickets:list-options:1"
LIST_OPTIONS_CACHE_SECONDS = 60


def list_options() -> ListOptions:
    """The list page's option lists, from Django's cache when fresh (no query)."""
    options = cache.get(LIST_OPTIONS_CACHE_KEY)
    if options is None:
        options = ListOptions(
            systems=tuple(
                BusinessSystem.objects.order_by("name", "code").values_list("code", "name")
            ),
            vendors=tuple(Vendor.objects.order_by("name", "code").values_list("code", "name")),
            categories=tuple(Category.objects.order_by("name", "code").values_list("code", "name")),
            dispatch_vendors=tuple(
                Vendor.objects.active().order_by("code").values_list("pk", "name")
            ),
            version=uuid.uuid4().hex,
        )
        cache.set(LIST_OPTIONS_CACHE_KEY, options, LIST_OPTIONS_CACHE_SECONDS)
    return options


def vendor_open_tickets(user) -> QuerySet[Ticket]:
    """A vendor's open tickets, nearest deadline first."""
    if not roles.is_vendor_staff(user):
        return Ticket.objects.none()
    return ticket_list(user).open().order_by("resolution_due", "id")


def requester_tickets(user) -> QuerySet[Ticket]:
    return ticket_list(user).filter(requester_id=user.pk).order_by("-id")


def links_for(user, ticket: Ticket) -> list[tuple[str, str, Ticket]]:
    """(kind, direction, other ticket) of the ticket's links whose other end the user may see.

    ``direction`` is ``out`` for this ticket → the other. ``duplicate_of`` is a field of the
    ticket, not a link row; callers show it themselves.
    """
    visible = access.visible_tickets(user)
    outgoing = ticket.links_out.filter(target__in=visible).select_related("target")
    incoming = ticket.links_in.filter(source__in=visible).select_related("source")
    links = [(link.kind, "out", link.target) for link in outgoing]
    return links + [(link.kind, "in", link.source) for link in incoming]


def duplicate_original(user, ticket: Ticket) -> Ticket | None:
    """The ticket this one repeats, if the user may see it."""
    if not ticket.duplicate_of_id:
        return None
    return access.visible_tickets(user).filter(pk=ticket.duplicate_of_id).first()
