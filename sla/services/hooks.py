"""The SLA hooks that ``tickets.services`` calls inside its transactions.

Each hook runs with the ticket row locked. It may set the ticket's SLA fields (``response_due``,
``resolution_due``, ``paused_at``, ``paused_working_seconds``) in memory and returns the names
it changed; the ticket service saves them with its own ``update_fields``. Hooks write only SLA
rows and notifications (whose e-mails and robot posts are published after commit): never the
broker or the network. One exception to "hooks write": a new ticket's escalation levels are
computed by ``sla_ticket_opening_levels`` and inserted by ``ticket_create`` together with the
ticket (one statement on PostgreSQL).

Clocks (working time on the policy's calendar, from ``reported_at``):

- response: until the vendor accepts or the desk resolves first-line;
- resolution: stops while pending (挂起) and between resolution and a reopen; the stopped
  intervals are kept as ``SlaPause`` rows and re-measured when the calendar changes (regrade);
- vendor response: one per dispatch (派单), from ``dispatched_at`` until that vendor accepts.

Tasks (督办) have no policy: their deadline is the date the desk sets, measured in plain time,
and pauses do not move it. Outcomes are frozen when decided (``SlaOutcome``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from opsdesk.clock import now as current_time
from sla.calendar import BusinessCalendar, working_minutes_between
from sla.models import EscalationSchedule, Metric, PauseReason, SlaOutcome, SlaPause
from sla.selectors import SlaConfig, sla_config
from sla.services.clocks import (
    ALL_METRICS,
    Clock,
    fallback_clock,
    policy_of,
    policy_resolution_clock,
    resolution_clock,
    response_clock,
    vendor_clock,
)
from sla.services.escalation import cancel_levels, fire_due_levels, level_rows, schedule_levels
from tickets.models import Kind, Status, Ticket, TicketDispatch


def sla_ticket_prepare(*, ticket: Ticket) -> set[str]:
    """Set the deadlines of a ticket about to be inserted (0 queries with a warm config).

    Tasks get no resolution deadline here: ``ticket_create`` sets the desk's date afterwards.
    """
    config = sla_config()
    response = response_clock(ticket, config)
    resolution = policy_resolution_clock(ticket, config)
    ticket.response_due = response.due_at() if response else None
    ticket.resolution_due = resolution.due_at() if resolution else None
    return {"response_due", "resolution_due"}


def sla_ticket_opening_levels(*, ticket: Ticket) -> list[EscalationSchedule]:
    """The escalation levels of a ticket about to be inserted, deadlines set (0 queries warm).

    ``ticket_create`` inserts them along with the ticket (their ``ticket`` is still unset)
    and then calls ``sla_ticket_opened``.
    """
    return level_rows(ticket, sla_config(), metrics=(Metric.RESPONSE, Metric.RESOLUTION))


def sla_ticket_opened(*, ticket: Ticket, levels: Iterable[EscalationSchedule]) -> None:
    """After insert of the ticket and its ``levels``: fire those already due (grade-1 notice)."""
    fire_due_levels(ticket, levels, now=current_time())


def sla_ticket_reclassified(*, ticket: Ticket) -> set[str]:
    """Kind, grade or system changed on an open ticket: recompute deadlines and schedules.

    Deadlines restart from ``reported_at`` under the new policy; the excluded (paused)
    working time is re-measured on the new calendar from the stored pause intervals. A
    decided response keeps its deadline. The current unaccepted dispatch gets a new vendor
    deadline. A task keeps the desk's date.
    """
    now = current_time()
    config = sla_config()
    deadlines = sla_deadlines(ticket=ticket)
    for name, value in deadlines.items():
        setattr(ticket, name, value)
    changed = set(deadlines)
    dispatch = TicketDispatch.objects.filter(
        ticket=ticket, ended_at__isnull=True, accepted_at__isnull=True
    ).first()
    if dispatch is not None:
        clock = vendor_clock(ticket, dispatch, config)
        dispatch.response_due = clock.due_at() if clock else None
        dispatch.save(update_fields=["response_due"])
    schedule_levels(ticket, config, metrics=ALL_METRICS, now=now, dispatch=dispatch, replace=True)
    return changed


def sla_deadlines(*, ticket: Ticket) -> dict[str, Any]:
    """The ticket's SLA fields as the current configuration computes them, not applied.

    Only the fields it would set: the response deadline while unanswered; the resolution
    deadline with the paused working time re-measured (on the policy's calendar) from the
    stored pause intervals, unless the ticket is a task, which keeps the desk's date.
    """
    config = sla_config()
    deadlines: dict[str, Any] = {}
    if ticket.responded_at is None:
        response = response_clock(ticket, config)
        deadlines["response_due"] = response.due_at() if response else None
    policy = policy_of(ticket, config)
    if policy is not None and policy.resolution_minutes:
        calendar = config.calendar(policy.calendar_code)
        # the clock reads paused_working_seconds from the ticket: measure it first, on a copy
        remeasured = copy.copy(ticket)
        remeasured.paused_working_seconds = _paused_seconds(ticket, calendar)
        deadlines["paused_working_seconds"] = remeasured.paused_working_seconds
        deadlines["resolution_due"] = policy_resolution_clock(remeasured, config).due_at()
    elif ticket.kind != Kind.TASK:
        deadlines["resolution_due"] = None
    return deadlines


def sla_ticket_dispatched(*, ticket: Ticket, dispatch: TicketDispatch) -> None:
    """A (re-)dispatch: start this vendor's response clock; a re-dispatch keeps the ticket's.

    Saves ``dispatch.response_due``. The previous dispatch was ended by the caller: if it was
    never accepted and its deadline had passed, its breach is frozen now.
    """
    config = sla_config()
    clock = vendor_clock(ticket, dispatch, config)
    dispatch.response_due = clock.due_at() if clock else None
    dispatch.save(update_fields=["response_due"])
    _decide_unanswered_dispatches(ticket, config, at=dispatch.dispatched_at)
    schedule_levels(
        ticket,
        config,
        metrics=(Metric.VENDOR_RESPONSE,),
        now=dispatch.dispatched_at,
        dispatch=dispatch,
        replace=True,
    )


def sla_dispatch_accepted(*, ticket: Ticket, at: datetime) -> set[str]:
    """The current dispatch's vendor accepted: freeze its vendor-response outcome.

    Called on every accept, also after a re-dispatch when the ticket itself was answered
    long ago — each vendor is counted against its own clock.
    """
    config = sla_config()
    dispatch = TicketDispatch.objects.filter(ticket=ticket, ended_at__isnull=True).first()
    if dispatch is not None and dispatch.accepted_at == at and dispatch.response_due:
        clock = vendor_clock(ticket, dispatch, config) or fallback_clock(
            Metric.VENDOR_RESPONSE, dispatch.dispatched_at, config
        )
        _outcome(
            ticket, clock, due_at=dispatch.response_due, decided_at=at, dispatch=dispatch
        ).save(force_insert=True)
    cancel_levels(ticket, metrics=(Metric.VENDOR_RESPONSE,))
    return set()


def sla_ticket_responded(*, ticket: Ticket, at: datetime) -> set[str]:
    """First response (vendor accept or the desk's first-line resolution): freeze it."""
    config = sla_config()
    if ticket.response_due is not None:
        clock = response_clock(ticket, config) or fallback_clock(
            Metric.RESPONSE, ticket.reported_at, config
        )
        _outcome(ticket, clock, due_at=ticket.response_due, decided_at=at).save(force_insert=True)
    cancel_levels(ticket, metrics=(Metric.RESPONSE,))
    return set()


def sla_ticket_paused(*, ticket: Ticket, at: datetime) -> set[str]:
    """Pending (挂起): the resolution clock stops; its escalation levels are suspended."""
    ticket.paused_at = at
    SlaPause.objects.create(ticket=ticket, reason=PauseReason.PENDING, started_at=at)
    # Levels a sweep is firing at this moment were due before the pause: let them fire.
    unfired = EscalationSchedule.objects.filter(
        ticket=ticket, metric=Metric.RESOLUTION, fired_at__isnull=True
    )
    free = list(unfired.select_for_update(skip_locked=True).values_list("pk", flat=True))
    EscalationSchedule.objects.filter(pk__in=free).update(due_at=None)
    return {"paused_at"}


def sla_ticket_resumed(*, ticket: Ticket, at: datetime) -> set[str]:
    """Back from pending: the resolution deadline moves by the working time spent pending."""
    config = sla_config()
    paused_from = ticket.paused_at or at
    SlaPause.objects.filter(ticket=ticket, ended_at__isnull=True).update(ended_at=at)
    ticket.paused_at = None
    changed = {"paused_at"}
    clock = policy_resolution_clock(ticket, config)
    if clock is not None:
        ticket.paused_working_seconds += _working_seconds(paused_from, at, clock.calendar)
        ticket.resolution_due = policy_resolution_clock(ticket, config).due_at()
        changed |= {"paused_working_seconds", "resolution_due"}
    schedule_levels(ticket, config, metrics=(Metric.RESOLUTION,), now=at, replace=True)
    return changed


def sla_ticket_resolved(*, ticket: Ticket, at: datetime) -> set[str]:
    """Resolved: freeze the resolution outcome and cancel every pending escalation level."""
    config = sla_config()
    if ticket.resolution_due is not None:
        clock = resolution_clock(ticket, config) or fallback_clock(
            Metric.RESOLUTION, ticket.reported_at, config
        )
        _outcome(ticket, clock, due_at=ticket.resolution_due, decided_at=at).save(force_insert=True)
    _decide_unanswered_dispatches(ticket, config, at=at)
    cancel_levels(ticket, metrics=ALL_METRICS)
    return set()


def sla_ticket_reopened(*, ticket: Ticket, at: datetime) -> set[str]:
    """Reopened: the resolution clock runs on from where it stopped at the resolution.

    The time between resolution and reopen is excluded like a pause (the requester was
    checking the fix, not waiting for it); the earlier resolution outcome is superseded and
    the next resolution freezes a new one. Levels that already fired do not fire again.
    """
    config = sla_config()
    changed: set[str] = set()
    outcome = SlaOutcome.objects.filter(
        ticket=ticket, metric=Metric.RESOLUTION, superseded_at__isnull=True
    ).first()
    if outcome is not None:
        outcome.superseded_at = at
        outcome.save(update_fields=["superseded_at"])
        clock = policy_resolution_clock(ticket, config)
        if clock is not None:
            SlaPause.objects.create(
                ticket=ticket,
                reason=PauseReason.RESOLVED,
                started_at=outcome.decided_at,
                ended_at=at,
            )
            ticket.paused_working_seconds += _working_seconds(
                outcome.decided_at, at, clock.calendar
            )
            ticket.resolution_due = policy_resolution_clock(ticket, config).due_at()
            changed |= {"paused_working_seconds", "resolution_due"}
    schedule_levels(ticket, config, metrics=(Metric.RESOLUTION,), now=at, replace=True)
    return changed


def sla_ticket_finished(*, ticket: Ticket, at: datetime) -> set[str]:
    """Closed or cancelled: cancel pending levels; a cancellation freezes passed deadlines.

    Undecided metrics of a cancelled ticket whose deadline had already passed are breaches
    that happened (frozen as such); those still running are void.
    """
    config = sla_config()
    if ticket.status == Status.CANCELLED:
        if ticket.responded_at is None and ticket.response_due and ticket.response_due < at:
            clock = response_clock(ticket, config) or fallback_clock(
                Metric.RESPONSE, ticket.reported_at, config
            )
            _outcome(ticket, clock, due_at=ticket.response_due, decided_at=at).save(
                force_insert=True
            )
        if ticket.resolved_at is None and ticket.resolution_due and ticket.resolution_due < at:
            clock = resolution_clock(ticket, config) or fallback_clock(
                Metric.RESOLUTION, ticket.reported_at, config
            )
            _outcome(ticket, clock, due_at=ticket.resolution_due, decided_at=at).save(
                force_insert=True
            )
        # Closing a resolved ticket decides nothing: its dispatches were judged at resolution.
        _decide_unanswered_dispatches(ticket, config, at=at)
    cancel_levels(ticket, metrics=ALL_METRICS)
    return set()


# ---------------------------------------------------------------------------------------------
# Helpers of the hooks


def _working_seconds(start: datetime, end: datetime, calendar: BusinessCalendar) -> int:
    return round(working_minutes_between(start, end, calendar) * 60)


def _paused_seconds(ticket: Ticket, calendar: BusinessCalendar) -> int:
    """Working seconds of the ticket's finished pauses, measured on ``calendar``."""
    intervals = SlaPause.objects.filter(ticket=ticket, ended_at__isnull=False).values_list(
        "started_at", "ended_at"
    )
    return sum(_working_seconds(start, end, calendar) for start, end in intervals)


def _outcome(
    ticket: Ticket,
    clock: Clock,
    *,
    due_at: datetime,
    decided_at: datetime,
    dispatch: TicketDispatch | None = None,
) -> SlaOutcome:
    elapsed = Decimal(str(round(clock.elapsed_minutes(decided_at), 2)))
    return SlaOutcome(
        ticket=ticket,
        metric=clock.metric,
        dispatch=dispatch,
        vendor_id=dispatch.vendor_id if dispatch is not None else ticket.vendor_id,
        kind=ticket.kind,
        grade=ticket.grade,
        system_id=ticket.system_id,
        started_at=clock.start,
        due_at=due_at,
        decided_at=decided_at,
        met=decided_at <= due_at,
        elapsed_working_minutes=elapsed,
        target_minutes=round(clock.target_minutes) if clock.target_minutes else None,
        calendar_code=clock.calendar.code,
    )


def _decide_unanswered_dispatches(ticket: Ticket, config: SlaConfig, *, at: datetime) -> None:
    """Freeze breaches of dispatches that ended (or whose ticket ended) unaccepted past due.

    A dispatch withdrawn before its deadline has no outcome: the vendor was not late.
    """
    candidates = TicketDispatch.objects.filter(
        ticket=ticket,
        accepted_at__isnull=True,
        response_due__isnull=False,
        sla_outcomes__isnull=True,
    )
    outcomes = []
    for dispatch in candidates:
        decided_at = dispatch.ended_at or at
        if dispatch.response_due >= decided_at:
            continue
        clock = vendor_clock(ticket, dispatch, config) or fallback_clock(
            Metric.VENDOR_RESPONSE, dispatch.dispatched_at, config
        )
        due_at = dispatch.response_due
        outcomes.append(
            _outcome(ticket, clock, due_at=due_at, decided_at=decided_at, dispatch=dispatch)
        )
    if outcomes:
        SlaOutcome.objects.bulk_create(outcomes)
