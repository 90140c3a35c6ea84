"""Production mode: refuses to start half-configured; `check --deploy` is clean when configured."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "OPSDESK_ENV": "production",
    "SECRET_KEY": "x" * 40 + "-a-long-random-production-secret-key-value",
    "DATABASE_URL": "postgres://opsdesk:secret@db.internal:5432/opsdesk",
    "ALLOWED_HOSTS": "opsdesk.example.gov.cn",
    "CSRF_TRUSTED_ORIGINS": "https://opsdesk.example.gov.cn",
}


def manage(*args, env, tmp_path):
    # DJANGO_ALLOW_ASYNC_UNSAFE is set by the browser tests' fixture; production never has it.
    dropped = {"DATABASE_URL", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "OPSDESK_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_in_production_mode(tmp_path):
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV, tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key(tmp_path):
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_seed_demo_refuses_to_run_in_production(tmp_path):
    result = manage("seed_demo", env=PRODUCTION_ENV, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "refuses to run in production" in result.stderr
