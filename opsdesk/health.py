"""``/healthz``: database, broker and worker heartbeat, as JSON for load balancers and monitors."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from opsdesk.celery import app as celery_app
from opsdesk.models import Heartbeat
from opsdesk.services import WORKER_HEARTBEAT


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the message tells the operator why
        return {"ok": False, "error": str(exc)[:200]}
    return {"ok": True, "vendor": connection.vendor}


def check_broker() -> dict:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:
        return {"ok": False, "error": str(exc)[:200]}
    return {"ok": True, "transport": str(transport)}


def check_worker() -> dict:
    try:
        heartbeat = Heartbeat.objects.filter(name=WORKER_HEARTBEAT).first()
    except Exception as exc:
        return {"ok": False, "error": str(exc)[:200]}
    if heartbeat is None:
        return {"ok": False, "error": "no heartbeat recorded yet"}
    age = timezone.now() - heartbeat.beat_at
    return {
        "ok": age <= settings.OPSDESK_HEARTBEAT_MAX_AGE,
        "last_beat": heartbeat.beat_at.isoformat(),
        "age_seconds": round(age.total_seconds(), 1),
        "hostname": heartbeat.hostname,
    }


@never_cache
@require_GET
def healthz(request):
    checks = {"database": check_database(), "broker": check_broker(), "worker": check_worker()}
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unhealthy", "checks": checks},
        status=200 if healthy else 503,
    )
