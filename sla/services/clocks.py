"""SLA clocks: which policy applies to a ticket and when each of its clocks runs out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sla.calendar import BusinessCalendar, add_working_time, working_minutes_between
from sla.models import Metric
from sla.selectors import PolicyInfo, SlaConfig
from tickets.models import Ticket, TicketDispatch

ALL_METRICS = (Metric.RESPONSE, Metric.RESOLUTION, Metric.VENDOR_RESPONSE)


@dataclass(frozen=True, slots=True)
class Clock:
    """One running SLA clock: ``target`` working minutes from ``start`` plus excluded time."""

    metric: str
    calendar: BusinessCalendar
    start: datetime
    target_minutes: float
    paused_minutes: float = 0.0

    def due_at(self, fraction: float = 1.0) -> datetime:
        minutes = self.target_minutes * fraction + self.paused_minutes
        return add_working_time(self.start, minutes, self.calendar)

    def elapsed_minutes(self, until: datetime) -> float:
        elapsed = working_minutes_between(self.start, until, self.calendar)
        return max(0.0, elapsed - self.paused_minutes)


def policy_of(ticket: Ticket, config: SlaConfig) -> PolicyInfo | None:
    return config.policy_for(ticket.kind, ticket.grade, ticket.system_id)


def response_clock(ticket: Ticket, config: SlaConfig) -> Clock | None:
    policy = policy_of(ticket, config)
    if policy is None or not policy.response_minutes:
        return None
    calendar = config.calendar(policy.calendar_code)
    return Clock(Metric.RESPONSE, calendar, ticket.reported_at, policy.response_minutes)


def policy_resolution_clock(ticket: Ticket, config: SlaConfig) -> Clock | None:
    policy = policy_of(ticket, config)
    if policy is None or not policy.resolution_minutes:
        return None
    return Clock(
        Metric.RESOLUTION,
        config.calendar(policy.calendar_code),
        ticket.reported_at,
        policy.resolution_minutes,
        ticket.paused_working_seconds / 60,
    )


def resolution_clock(ticket: Ticket, config: SlaConfig) -> Clock | None:
    """The policy's resolution clock, or for a task the desk's date in plain time."""
    clock = policy_resolution_clock(ticket, config)
    if clock is None and ticket.resolution_due is not None:
        span = (ticket.resolution_due - ticket.reported_at).total_seconds() / 60
        clock = Clock(Metric.RESOLUTION, config.always_open, ticket.reported_at, max(0.0, span))
    return clock


def vendor_clock(ticket: Ticket, dispatch: TicketDispatch, config: SlaConfig) -> Clock | None:
    """Each dispatch has its own clock: the response target of the ticket's grade."""
    policy = policy_of(ticket, config)
    if policy is None or not policy.response_minutes:
        return None
    calendar = config.calendar(policy.calendar_code)
    return Clock(Metric.VENDOR_RESPONSE, calendar, dispatch.dispatched_at, policy.response_minutes)


def fallback_clock(metric: str, start: datetime, config: SlaConfig) -> Clock:
    # A stored deadline whose policy has gone (deactivated since): still decide the outcome.
    return Clock(metric, config.always_open, start, 0.0)
