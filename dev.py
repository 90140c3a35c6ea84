#!/usr/bin/env python3
"""Opsdesk developer entry point: the README's two commands.

    python3 dev.py run    # virtualenv, install, migrate, demo data, web + Celery worker + beat
    python3 dev.py test   # ruff, migrations check, the whole pytest suite

Only the standard library is used here, so it runs on a fresh machine with Python 3.11+.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("OPSDESK_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".opsdesk-installed"


def say(message: str) -> None:
    print(f"\033[1;34m==> {message}\033[0m", flush=True)


def sh(*args: str | Path, **kwargs) -> None:
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True, **kwargs)


def ensure_environment() -> None:
    """Create the virtualenv and (re)install when pyproject.toml changed since the last install."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py itself runs on any python3
        sys.exit("Opsdesk needs Python 3.11 or newer.")
    if not PYTHON.exists():
        say(f"Creating virtualenv in {VENV}")
        sh(sys.executable, "-m", "venv", VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != wanted:
        say("Installing Opsdesk and its dependencies")
        sh(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        sh(PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
        STAMP.write_text(wanted)


def manage(*args: str) -> None:
    sh(PYTHON, "manage.py", *args)


def run() -> int:
    ensure_environment()
    say("Migrating the database")
    manage("migrate", "--no-input", "-v", "0")
    say("Loading demo data")
    manage("seed_demo")
    host = os.environ.get("OPSDESK_HOST", "127.0.0.1")
    port = os.environ.get("OPSDESK_PORT", "8000")
    celery = str(BIN / "celery")
    commands = {
        "web": [str(PYTHON), "manage.py", "runserver", f"{host}:{port}", "--noreload"],
        "worker": [celery, "-A", "opsdesk", "worker", "-l", "INFO", "--concurrency", "2"],
        "beat": [celery, "-A", "opsdesk", "beat", "-l", "INFO"],
    }
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    # Handlers first: a Ctrl-C between two Popen calls must not orphan the ones started.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    processes: dict[str, subprocess.Popen] = {}
    for name, command in commands.items():
        # A session each: a terminal Ctrl-C reaches only dev.py, which stops them in order.
        processes[name] = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
    say(f"Opsdesk is running at http://{host}:{port}/  (Ctrl-C stops web, worker and beat)")
    say("Demo accounts, password opsdesk-demo: admin, desk, supervisor, leader, vendor-a-manager,")
    say("  vendor-a-engineer, vendor-b-manager, vendor-b-engineer, requester")

    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name} exited with {process.returncode}; stopping the rest.", flush=True)
                exit_code = process.returncode or 1
                stopping = True
        time.sleep(0.5)
    say("Stopping")
    # SIGTERM to each leader only: the Celery worker then stops its own pool children (a warm
    # shutdown). Signalling the whole group kills the children under it and can hang it.
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 15
    for name, process in processes.items():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in time; killing it.", flush=True)
        # The group goes too, so no pool child outlives its worker.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return exit_code


def test(pytest_args: list[str]) -> int:
    ensure_environment()
    say("ruff check")
    sh(BIN / "ruff", "check", ".")
    say("ruff format --check")
    sh(BIN / "ruff", "format", "--check", ".")
    say("makemigrations --check")
    manage("makemigrations", "--check", "--dry-run")
    say("pytest")
    return subprocess.run([str(PYTHON), "-m", "pytest", *pytest_args], cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"}:
        print(__doc__)
        return 2
    try:
        return run() if argv[0] == "run" else test(argv[1:])
    except subprocess.CalledProcessError as exc:
        print(f"Failed: {' '.join(map(str, exc.cmd))} (exit {exc.returncode})", file=sys.stderr)
        return exc.returncode or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
