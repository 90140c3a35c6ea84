"""Celery tasks: thin wrappers over ``notifications.services``.

Retries are not Celery retries: a failed attempt is rescheduled on the ``Delivery`` row
(``next_attempt_at``, exponential backoff) and the beat-driven sweep enqueues it again. The
row is the single source of truth, so retries survive broker restarts and lost messages.
"""

from celery import shared_task
from django.utils import timezone

from notifications import services


@shared_task(name="notifications.tasks.deliver", acks_late=True, ignore_result=True)
def deliver(delivery_id: int) -> None:
    """Send one delivery; a duplicate or late message is a no-op (the row is claimed first)."""
    services.delivery_send(delivery_id=delivery_id)


@shared_task(name="notifications.tasks.sweep_deliveries", acks_late=True, ignore_result=True)
def sweep_deliveries() -> None:
    services.deliveries_sweep(now=timezone.now())


@shared_task(name="notifications.tasks.purge_old", acks_late=True, ignore_result=True)
def purge_old() -> None:
    """Nightly retention; deleting what is already gone is a no-op, so a rerun is harmless."""
    services.notifications_purge(now=timezone.now())
