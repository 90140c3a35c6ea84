from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from directory import roles
from sla.selectors import calendar_data_warning
from tickets import selectors
from tickets.views.listing import (
    DEFAULT_PAGE_SIZE,
    QUEUE_LABELS,
    page_from_request,
    rows_of,
)

HOME_TEMPLATES = {
    "desk": "home/desk.html",
    "vendor": "home/vendor.html",
    "oversight": "home/oversight.html",
    "requester": "home/requester.html",
}
RECENT_TICKETS = 10


@login_required
def home(request):
    """Each role lands on its own home page."""
    kind = roles.home_kind(request.user)
    context = {"home_kind": kind, "role_label": _role_label(request.user)}
    context.update(HOME_CONTEXT[kind](request))
    return render(request, HOME_TEMPLATES[kind], context)


def _role_label(user) -> str:
    role = roles.primary_role(user)
    return role.label if role else ""


def _queue_cards(request) -> dict:
    """The desk queues with their counts: one aggregate over the user's open tickets."""
    now = timezone.now()
    counts = selectors.queue_counts(request.user, now=now)
    cards = [(key, label, getattr(counts, key)) for key, label in QUEUE_LABELS.items()]
    context = {"counts": counts, "queue_cards": cards}
    if roles.is_oversight(request.user):
        # Missing holiday data silently skews every deadline: supervisors must see it.
        context["calendar_warning"] = calendar_data_warning(timezone.localdate(now))
    return context


def _desk(request) -> dict:
    recent = selectors.ticket_list(request.user).order_by("-updated_at", "-id")
    return {**_queue_cards(request), "recent": rows_of(recent[:RECENT_TICKETS])}


def _oversight(request) -> dict:
    return _queue_cards(request)


def _vendor(request) -> dict:
    """The vendor's open tickets, nearest resolution deadline first, keyset-paginated."""
    page, _bad = page_from_request(
        selectors.vendor_open_tickets(request.user),
        request,
        field="resolution_due",
        descending=False,
        page_size=DEFAULT_PAGE_SIZE,
    )
    return {"page": page}


def _requester(request) -> dict:
    page, _bad = page_from_request(
        selectors.requester_tickets(request.user),
        request,
        field="id",
        descending=True,
        page_size=DEFAULT_PAGE_SIZE,
    )
    return {"page": page}


HOME_CONTEXT = {
    "desk": _desk,
    "oversight": _oversight,
    "vendor": _vendor,
    "requester": _requester,
}
