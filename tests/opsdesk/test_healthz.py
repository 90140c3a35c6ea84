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


@pytest.fixture
def fresh_health_log(monkeypatch):
    from opsdesk import health

    monkeypatch.setattr(health, "_last_failing", frozenset())


def test_an_unhealthy_probe_is_a_warning_once_not_an_error_each_time(
    client, caplog, fresh_health_log
):
    with caplog.at_level("INFO"):
        client.get("/healthz")
        client.get("/healthz")
        heartbeat_record()
        client.get("/healthz")

    records = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert not [r for r in records if r[0] == "django.request"]
    warnings = [r for r in records if r[:2] == ("opsdesk.health", "WARNING")]
    assert len(warnings) == 1
    assert "worker" in warnings[0][2] and "no heartbeat recorded yet" in warnings[0][2]
    assert ("opsdesk.health", "INFO", "healthy again") in records


def test_other_server_errors_are_still_logged(rf):
    import logging

    from opsdesk.log_filters import SkipUnhealthyProbes

    def record(path: str, status: int) -> logging.LogRecord:
        entry = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "x", (), None)
        entry.status_code, entry.request = status, rf.get(path)
        return entry

    keep = SkipUnhealthyProbes().filter
    assert keep(record("/healthz", 503)) is False
    assert keep(record("/healthz", 500)) is True
    assert keep(record("/tickets/", 503)) is True
