from celery import shared_task
from django.utils import timezone

from sla.selectors import sla_config_invalidate
from tickets.services import tickets_auto_close, tickets_deadlines_recompute


@shared_task(name="tickets.tasks.auto_close_resolved", acks_late=True, ignore_result=True)
def auto_close_resolved() -> int:
    return tickets_auto_close(now=timezone.now())


@shared_task(name="tickets.tasks.recompute_deadlines", acks_late=True, ignore_result=True)
def recompute_deadlines(calendar_code: str) -> int:
    # The calendar was edited in another process: read the configuration afresh.
    sla_config_invalidate()
    return tickets_deadlines_recompute(calendar_code=calendar_code, now=timezone.now())
