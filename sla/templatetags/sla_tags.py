"""``{% sla_badge ticket %}``: the SLA state of a ticket as a small Bootstrap badge.

Computed from the ticket's stored deadlines (``sla.selectors.sla_status``): no query per row,
so a list of 50 tickets costs what a list of 5 costs. ``{% sla_badge ticket now %}`` renders
the badge at a given instant (one ``now`` per page keeps a long list consistent).
"""

from __future__ import annotations

from django import template

from sla.selectors import SlaBadge, sla_status

register = template.Library()


@register.inclusion_tag("sla/badge.html")
def sla_badge(ticket, now=None) -> dict[str, SlaBadge]:
    return {"badge": sla_status(ticket, now)}


@register.simple_tag
def sla_state(ticket, now=None) -> SlaBadge:
    """The badge data for custom markup: ``{% sla_state ticket as sla %}{{ sla.label }}``."""
    return sla_status(ticket, now)
