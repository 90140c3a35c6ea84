"""``/healthz``: database, broker and worker heartbeat, as JSON for load balancers and monitors."""

from __future__ import annotations

import logging
import threading

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


logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request):
    checks = {"database": check_database(), "broker": check_broker(), "worker": check_worker()}
    healthy = all(check["ok"] for check in checks.values())
    _log_change(checks)
    return JsonResponse(
        {"status": "ok" if healthy else "unhealthy", "checks": checks},
        status=200 if healthy else 503,
    )


# What the last probe in this process found failing: a load balancer probes every few seconds,
# and the log should say when the state changes, not repeat it on every probe.
_last_failing: frozenset[str] = frozenset()
_last_failing_lock = threading.Lock()


def _log_change(checks: dict) -> None:
    global _last_failing
    failing = frozenset(name for name, check in checks.items() if not check["ok"])
    with _last_failing_lock:
        changed, _last_failing = failing != _last_failing, failing
    if not changed:
        return
    if failing:
        reasons = {name: checks[name].get("error", "stale") for name in sorted(failing)}
        logger.warning("unhealthy: %s", reasons, extra={"failing": sorted(failing)})
    else:
        logger.info("healthy again")
