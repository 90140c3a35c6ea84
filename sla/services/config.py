"""Configuration changes made in the admin: keep the cached snapshot and schedules honest."""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction

from sla import selectors
from sla.models import EscalationRule, EscalationSchedule

logger = logging.getLogger(__name__)
# The broker gets one short attempt from the admin's request; see calendar_recompute_enqueue.
PUBLISH_TRANSPORT_OPTIONS = {"max_retries": 0, "socket_timeout": 1, "socket_connect_timeout": 1}


def sla_config_changed() -> None:
    """Calendars, policies or rules were edited: rebuild this process's snapshot now.

    Also after commit, so that a snapshot read inside the editing transaction is dropped.
    Other processes pick the change up within ``selectors.CONFIG_TTL_SECONDS``.
    """
    selectors.sla_config_invalidate()
    transaction.on_commit(selectors.sla_config_invalidate)


def sla_calendar_changed(*, calendar_code: str) -> None:
    """A calendar's working hours or exception dates (holidays, make-up days) were edited.

    Besides the snapshot, the open tickets it times carry deadlines computed on the old
    calendar: after commit a worker recomputes them (``tickets.tasks.recompute_deadlines``).
    """
    sla_config_changed()
    transaction.on_commit(partial(calendar_recompute_enqueue, calendar_code=calendar_code))


def calendar_recompute_enqueue(*, calendar_code: str) -> bool:
    """Publish the recompute task; never raises. False (and a warning) if the broker is down:
    ``manage.py recompute_deadlines <calendar>`` does the same by hand."""
    from opsdesk.celery import app as celery_app
    from tickets.tasks import recompute_deadlines  # tickets' services import this package

    try:
        with celery_app.connection_for_write(transport_options=PUBLISH_TRANSPORT_OPTIONS) as conn:
            recompute_deadlines.apply_async((calendar_code,), connection=conn, retry=False)
    except Exception as exc:  # any broker/transport error
        logger.warning(
            "sla: broker unavailable, deadlines on calendar %s not recomputed; run "
            "`manage.py recompute_deadlines %s`: %s",
            calendar_code,
            calendar_code,
            exc,
        )
        return False
    return True


def escalation_rule_saved(*, rule: EscalationRule) -> int:
    """After an admin saved a rule: a deactivated rule's pending levels are cancelled.

    Returns how many pending levels were cancelled.
    """
    cancelled = 0
    if not rule.is_active:
        cancelled, _ = EscalationSchedule.objects.filter(rule=rule, fired_at__isnull=True).delete()
    sla_config_changed()
    return cancelled
