"""SLA test fixtures (`sla_defaults` is in tests/conftest.py, shared with the ticket tests)."""

from __future__ import annotations

import pytest


@pytest.fixture
def dead_broker(monkeypatch):
    """Point the Celery app at a closed port for one test (Redis is down).

    The app read its configuration at import and Celery prefers ``$CELERY_BROKER_URL``, so
    both are switched; teardown restores them.
    """
    from opsdesk.celery import app as celery_app

    url = "redis://127.0.0.1:1/0"
    saved = celery_app.conf.broker_url
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    celery_app.conf.broker_url = url
    yield url
    celery_app.conf.broker_url = saved
