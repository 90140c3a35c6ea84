"""Fixtures for notifications: a real local HTTP receiver standing in for the group robots."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from opsdesk.celery import app as celery_app
from tests.notifications.factories import ROBOT_OK

SILENT_BROKER_HANGUP = 10


@dataclass
class ReceivedRequest:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Receiver:
    """An ``http.server`` on 127.0.0.1 in a thread; answers with queued responses (or OK)."""

    url: str = ""
    requests: list[ReceivedRequest] = field(default_factory=list)
    responses: deque = field(default_factory=deque)
    default: tuple[int, object] = ROBOT_OK
    delay: float = 0.0

    def respond(self, *responses: tuple[int, object]) -> None:
        self.responses.extend(responses)

    def wait_for(self, count: int, timeout: float = 30) -> list[ReceivedRequest]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.requests


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = urlsplit(self.path)
            receiver.requests.append(
                ReceivedRequest(parts.path, parse_qs(parts.query), dict(self.headers), body)
            )
            if receiver.delay:
                time.sleep(receiver.delay)
            queued = receiver.responses
            status, answer = queued.popleft() if queued else receiver.default
            raw = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format, *args):  # keep pytest output clean
            pass

    return Handler


@pytest.fixture
def receiver():
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_broker():
    """A TCP port that accepts connections and never answers: a hung Redis.

    It hangs up after ``SILENT_BROKER_HANGUP`` seconds so that a regression makes the test
    fail on its time budget instead of blocking the suite forever.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    accepted: list[tuple[float, socket.socket]] = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            with contextlib.suppress(OSError):  # accept() timed out: check the hang-ups
                accepted.append((time.monotonic(), listener.accept()[0]))
            for since, conn in accepted:
                if time.monotonic() - since > SILENT_BROKER_HANGUP:
                    conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for _, conn in accepted:
        conn.close()
    listener.close()


@pytest.fixture
def broker_url(monkeypatch):
    """Point the Celery app at another broker for one test.

    The app read its settings at import, and Celery prefers ``$CELERY_BROKER_URL`` to its
    configuration, so both are switched. ``broker_url(None)`` switches back to the suite's
    broker; teardown always does.
    """
    saved_conf = celery_app.conf.broker_url
    saved_env = os.environ.get("CELERY_BROKER_URL")

    def use(url: str | None) -> None:
        celery_app.conf.broker_url = url or saved_conf
        if url is None and saved_env is None:
            monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
        else:
            monkeypatch.setenv("CELERY_BROKER_URL", url or saved_env)
        assert celery_app.conf.broker_url == (url or saved_conf)

    yield use
    celery_app.conf.broker_url = saved_conf
