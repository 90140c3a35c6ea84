from datetime import timedelta

import pytest
from django.utils import timezone

from opsdesk.models import Heartbeat
from opsdesk.services import WORKER_HEARTBEAT, heartbeat_record

pytestmark = pytest.mark.django_db


def test_healthz_is_unhealthy_before_any_worker_heartbeat(client):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is False


def test_healthz_is_healthy_with_a_fresh_heartbeat(client):
    heartbeat_record()
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["checks"]["broker"]["ok"] is True


def test_healthz_reports_a_stale_worker(client):
    Heartbeat.objects.create(name=WORKER_HEARTBEAT, beat_at=timezone.now() - timedelta(minutes=10))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"]["age_seconds"] >= 600


@pytest.mark.redis
@pytest.mark.celery_worker
def test_a_real_worker_on_redis_records_the_heartbeat(celery_worker_process):
    from opsdesk.tasks import record_heartbeat

    celery_worker_process.start()
    record_heartbeat.delay()
    deadline = timezone.now() + timedelta(seconds=30)
    while timezone.now() < deadline and not Heartbeat.objects.exists():
        import time

        time.sleep(0.3)
    assert Heartbeat.objects.filter(name=WORKER_HEARTBEAT).exists(), celery_worker_process.log()
