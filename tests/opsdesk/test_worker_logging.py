"""The Celery worker logs through Django's LOGGING (JSON lines in production), like the web."""

from __future__ import annotations

import json
import time

import pytest

pytestmark = [pytest.mark.redis, pytest.mark.celery_worker]


def test_the_worker_logs_json_lines_through_django_logging(celery_worker_process):
    from opsdesk.tasks import record_heartbeat

    celery_worker_process.env["OPSDESK_LOG_FORMAT"] = "json"
    celery_worker_process.start()
    record_heartbeat.delay()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "succeeded" not in celery_worker_process.log():
        time.sleep(0.3)

    lines = [line for line in celery_worker_process.log().splitlines() if line.startswith("{")]
    entries = [json.loads(line) for line in lines]
    loggers = {entry["logger"] for entry in entries}
    assert "celery.apps.worker" in loggers  # "ready."
    assert any(
        entry["logger"] == "celery.app.trace" and "succeeded" in entry["message"]
        for entry in entries
    ), celery_worker_process.log()
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
