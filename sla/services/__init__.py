"""SLA writes (public API). Split by subdomain:

- ``hooks``: the ``sla_ticket_*`` hooks called by ``tickets.services`` (deadlines, pauses,
  vendor clocks, frozen outcomes);
- ``escalation``: escalation levels per ticket clock and the ``escalation_sweep``;
- ``config``: reacting to admin edits of calendars, policies and rules;
- ``clocks``: which policy applies and when each clock runs out.

``sla_status`` (the badge) is a read and lives in ``sla.selectors``; it is re-exported here.
"""

from sla.selectors import sla_status
from sla.services.config import escalation_rule_saved, sla_calendar_changed, sla_config_changed
from sla.services.escalation import escalation_sweep
from sla.services.hooks import (
    sla_deadlines,
    sla_dispatch_accepted,
    sla_ticket_dispatched,
    sla_ticket_finished,
    sla_ticket_opened,
    sla_ticket_opening_levels,
    sla_ticket_paused,
    sla_ticket_prepare,
    sla_ticket_reclassified,
    sla_ticket_reopened,
    sla_ticket_resolved,
    sla_ticket_responded,
    sla_ticket_resumed,
)

__all__ = [
    "escalation_rule_saved",
    "escalation_sweep",
    "sla_calendar_changed",
    "sla_config_changed",
    "sla_dispatch_accepted",
    "sla_status",
    "sla_ticket_dispatched",
    "sla_ticket_finished",
    "sla_ticket_opened",
    "sla_ticket_opening_levels",
    "sla_ticket_paused",
    "sla_ticket_prepare",
    "sla_deadlines",
    "sla_ticket_reclassified",
    "sla_ticket_reopened",
    "sla_ticket_resolved",
    "sla_ticket_responded",
    "sla_ticket_resumed",
]
