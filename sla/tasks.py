"""Celery tasks: thin wrappers over ``sla.services``."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from sla.services import escalation_sweep


# acks_late + reject on worker loss (settings): a sweep killed mid-run is redelivered, and its
# uncommitted batch is claimed again — by it or by the next beat tick, whichever comes first.
@shared_task(name="sla.tasks.escalation_sweep", acks_late=True, ignore_result=True)
def escalation_sweep_task() -> int:
    """Fire the escalation levels due now (beat: every minute)."""
    return escalation_sweep(now=timezone.now())
