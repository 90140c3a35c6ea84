"""Suite-wide fixtures and the rules that keep CI honest.

Tests that need PostgreSQL, Redis, a live Celery worker or Chromium skip with a reason on a
machine without them — and fail instead when ``CI=true``, so CI can never pass by skipping.
"""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(reason: str) -> None:
    """Skip on a developer machine without the service; fail in CI."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def broker_is_redis() -> bool:
    return settings.CELERY_BROKER_URL.startswith("redis://")


def redis_reachable() -> bool:
    if not broker_is_redis():
        return False
    url = urlparse(settings.CELERY_BROKER_URL)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def pytest_report_header(config):
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return [f"opsdesk: database={engine} broker={settings.CELERY_BROKER_URL.split('://')[0]}"]


def pytest_sessionstart(session):
    if IN_CI and "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        pytest.exit("CI=true but DATABASE_URL is not PostgreSQL: refusing to run on SQLite.", 3)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    terminalreporter.write_line(f"opsdesk: the suite ran on database={engine}")


@pytest.fixture(scope="session", autouse=True)
def _own_broker_database_per_test_process():
    """Under ``pytest -n`` each test process publishes to, and starts its live workers on, its
    own Redis database: on a shared queue one process's worker would run the other's tasks
    against the wrong test database. Set before the first task is published."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or not broker_is_redis():
        yield
        return
    from opsdesk.celery import app as celery_app

    url = urlparse(settings.CELERY_BROKER_URL)
    base = int(url.path.strip("/") or 0)
    own = url._replace(path=f"/{(base + 1 + int(worker.removeprefix('gw'))) % 16}").geturl()
    # Celery prefers $CELERY_BROKER_URL over its configuration: set both.
    settings.CELERY_BROKER_URL = celery_app.conf.broker_url = os.environ["CELERY_BROKER_URL"] = own
    yield


@pytest.fixture(autouse=True)
def _service_requirements(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        missing("this test needs PostgreSQL (set DATABASE_URL=postgres://...)")
    if request.node.get_closest_marker("redis") and not redis_reachable():
        missing("this test needs Redis (set CELERY_BROKER_URL=redis://...)")
    if request.node.get_closest_marker("e2e") and not shutil.which("chromium"):
        missing("this test needs /usr/bin/chromium (apt-get install chromium fonts-noto-cjk)")


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # PBKDF2 is deliberately slow; the suite logs demo users in hundreds of times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache():
    # Cached option lists and similar must not leak from one test's database into the next.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_sla_config():
    # The SLA configuration snapshot is process-wide; a policy edited (and rolled back) in
    # one test must not leak into the next, whichever app's tests edit it.
    from sla.selectors import sla_config_invalidate

    sla_config_invalidate()
    yield
    sla_config_invalidate()


def database_url_for_subprocess() -> str:
    """A DATABASE_URL that points a child process at the test database pytest-django created."""
    db = settings.DATABASES["default"]
    if connection.vendor != "postgresql":
        missing("a separate worker process can only share a PostgreSQL test database")
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class WorkerProcess:
    """A real ``celery worker`` subprocess on the suite's Redis broker and test database."""

    def __init__(self, queue_env: dict[str, str]) -> None:
        self.env = queue_env
        self.process: subprocess.Popen | None = None
        self.log_path = Path(queue_env["OPSDESK_VAR_DIR"]) / "worker.log"

    def start(self, *extra: str) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "opsdesk",
                "worker",
                "-l",
                "INFO",
                "--pool",
                "prefork",
                "--concurrency",
                "2",
                "--without-mingle",
                "--without-gossip",
                *extra,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if b"ready." in self.log_path.read_bytes():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"worker died: {self.log()}")
            time.sleep(0.2)
        raise RuntimeError(f"worker did not start: {self.log()}")

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crashed machine would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """Start/stop a real worker subprocess: needs PostgreSQL (shared test DB) and Redis."""
    if not redis_reachable():
        missing("a live Celery worker needs Redis (set CELERY_BROKER_URL=redis://...)")
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "OPSDESK_VAR_DIR": str(tmp_path),
        "OPSDESK_LOG_FORMAT": "text",
    }
    worker = WorkerProcess(env)
    yield worker
    worker.stop()


@pytest.fixture
def sla_defaults(transactional_db):
    """The default calendars, policies and rules, for tests on a transactional database.

    Transactional tests flush every table afterwards, so the rows the data migration seeded
    are gone for the transactional tests that follow; seeding again is idempotent.
    """
    from django.apps import apps

    from sla.selectors import sla_config_invalidate

    seed = importlib.import_module("sla.migrations.0002_seed_defaults").seed
    seed(apps, None)
    sla_config_invalidate()
