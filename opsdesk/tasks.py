from celery import shared_task

from opsdesk.services import heartbeat_record


@shared_task(name="opsdesk.tasks.record_heartbeat", ignore_result=True)
def record_heartbeat() -> None:
    heartbeat_record()
