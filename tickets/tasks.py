from celery import shared_task
from django.utils import timezone

from tickets.services import tickets_auto_close


@shared_task(name="tickets.tasks.auto_close_resolved", acks_late=True, ignore_result=True)
def auto_close_resolved() -> int:
    return tickets_auto_close(now=timezone.now())
