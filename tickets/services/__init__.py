"""Ticket writes: one function per state change, each in one transaction.

- ``creation``: ``TicketInput`` and ``ticket_create`` (number, event, escalation levels).
- ``lifecycle``: the transitions (assign … regrade), ``ticket_update``, ``ticket_log_call``,
  ``allowed_actions`` for the UI, and the automatic closure of resolved tickets.
- ``comments``, ``links``: replies and notes; relations between tickets.
- ``deadlines``: recomputing open tickets' deadlines after a calendar change.

Callers use the package (``services.ticket_assign(...)``); the names below are its interface.
"""

from tickets.services.comments import comment_add
from tickets.services.creation import TicketInput, ticket_create
from tickets.services.deadlines import ticket_deadlines_recompute, tickets_deadlines_recompute
from tickets.services.lifecycle import (
    allowed_actions,
    auto_close_cutoff,
    ticket_accept,
    ticket_assign,
    ticket_auto_close,
    ticket_cancel,
    ticket_close,
    ticket_log_call,
    ticket_pend,
    ticket_regrade,
    ticket_reopen,
    ticket_resolve,
    ticket_resume,
    ticket_start,
    ticket_update,
    tickets_auto_close,
)
from tickets.services.links import ticket_link

__all__ = [
    "TicketInput",
    "allowed_actions",
    "auto_close_cutoff",
    "comment_add",
    "ticket_accept",
    "ticket_assign",
    "ticket_auto_close",
    "ticket_cancel",
    "ticket_close",
    "ticket_create",
    "ticket_deadlines_recompute",
    "ticket_link",
    "ticket_log_call",
    "ticket_pend",
    "ticket_regrade",
    "ticket_reopen",
    "ticket_resolve",
    "ticket_resume",
    "ticket_start",
    "ticket_update",
    "tickets_auto_close",
    "tickets_deadlines_recompute",
]
