"""SLA test fixtures: every test starts from the seeded configuration, read fresh."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from sla.selectors import sla_config_invalidate


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


@pytest.fixture
def sla_defaults(transactional_db):
    """The default calendars, policies and rules, for tests on a transactional database.

    Transactional tests flush every table afterwards, so the rows the data migration seeded
    are gone for the transactional tests that follow; seeding again is idempotent.
    """
    seed = importlib.import_module("sla.migrations.0002_seed_defaults").seed
    seed(apps, None)
    sla_config_invalidate()
