"""Who may see and do what with a ticket: one object-level policy for pages and API alike.

- Desk agents and supervisors (and administrators): every ticket, every action.
- Vendor staff: only tickets currently assigned to their vendor; they work them but cannot
  dispatch, regrade, cancel or close. Another vendor's ticket does not exist for them (404).
- Requesters: only tickets they requested; they comment publicly, confirm (close) or reopen.
- Centre leaders: read everything, change nothing.
"""

from __future__ import annotations

from django.db.models import QuerySet

from directory import roles
from opsdesk.errors import NotFound, NotPermitted
from tickets.models import Ticket


class Action:
    EDIT = "edit"
    ASSIGN = "assign"
    ACCEPT = "accept"
    START = "start"
    PEND = "pend"
    RESUME = "resume"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    CANCEL = "cancel"
    REGRADE = "regrade"
    COMMENT = "comment"
    COMMENT_INTERNAL = "comment_internal"
    ATTACH = "attach"


TRANSITIONS = (
    Action.ASSIGN,
    Action.ACCEPT,
    Action.START,
    Action.PEND,
    Action.RESUME,
    Action.RESOLVE,
    Action.CLOSE,
    Action.REOPEN,
    Action.CANCEL,
    Action.REGRADE,
)

_DESK_ACTIONS = frozenset(
    {
        Action.EDIT,
        *TRANSITIONS,
        Action.COMMENT,
        Action.COMMENT_INTERNAL,
        Action.ATTACH,
    }
)
_VENDOR_ACTIONS = frozenset(
    {
        Action.ACCEPT,
        Action.START,
        Action.PEND,
        Action.RESUME,
        Action.RESOLVE,
        Action.COMMENT,
        Action.COMMENT_INTERNAL,
        Action.ATTACH,
    }
)
_REQUESTER_ACTIONS = frozenset({Action.COMMENT, Action.ATTACH, Action.CLOSE, Action.REOPEN})


def visible_tickets(user, queryset: QuerySet[Ticket] | None = None) -> QuerySet[Ticket]:
    """Scope a ticket queryset to what ``user`` may see."""
    qs = Ticket.objects.all() if queryset is None else queryset
    if roles.is_desk(user) or roles.is_oversight(user):
        return qs
    if roles.is_vendor_staff(user):
        return qs.filter(vendor_id=user.vendor_id)
    if roles.is_requester(user):
        return qs.filter(requester_id=user.pk)
    return qs.none()


def role_actions(user, ticket: Ticket) -> frozenset[str]:
    """Actions the user's role grants on this (visible) ticket, before state guards."""
    if roles.is_desk(user):
        return _DESK_ACTIONS
    if roles.is_vendor_staff(user) and ticket.vendor_id == user.vendor_id:
        return _VENDOR_ACTIONS
    if roles.is_requester(user) and ticket.requester_id == user.pk:
        return _REQUESTER_ACTIONS
    return frozenset()


def can_see_internal(user) -> bool:
    """Internal notes are for the desk, vendors and oversight — never for requesters."""
    return roles.is_desk(user) or roles.is_vendor_staff(user) or roles.is_oversight(user)


def access_ticket(user, pk, *, for_update: bool = False, queryset=None) -> Ticket:
    """Load a ticket the user may see, or raise ``NotFound`` — also when it exists elsewhere."""
    qs = visible_tickets(user, queryset)
    if for_update:
        # FOR NO KEY UPDATE: inserts that only reference the ticket (events, notifications,
        # comments) need not wait for the ticket's transaction to end.
        qs = qs.select_for_update(of=("self",), no_key=True)
    try:
        return qs.get(pk=pk)
    except (Ticket.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None


def require_action(user, ticket: Ticket, action: str) -> None:
    if action not in role_actions(user, ticket):
        raise NotPermitted()
