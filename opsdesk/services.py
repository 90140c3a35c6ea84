"""Writes that belong to the project itself rather than to a domain app."""

import socket

from django.utils import timezone

from opsdesk.models import Heartbeat

WORKER_HEARTBEAT = "celery-worker"


def heartbeat_record(*, name: str = WORKER_HEARTBEAT) -> Heartbeat:
    """Upsert the named heartbeat with the current time; the worker calls this on a schedule."""
    heartbeat, _ = Heartbeat.objects.update_or_create(
        name=name, defaults={"beat_at": timezone.now(), "hostname": socket.gethostname()}
    )
    return heartbeat
