"""The services' clock: ``timezone.now()`` unless a caller replays history at a fixed instant.

Only the demo seeder uses ``clock.at(...)`` — to walk tickets through their lifecycle at
plausible past times — so that every timestamp, event and SLA outcome stays consistent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.utils import timezone

_frozen: ContextVar[datetime | None] = ContextVar("opsdesk_clock", default=None)


def now() -> datetime:
    return _frozen.get() or timezone.now()


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    token = _frozen.set(moment)
    try:
        yield
    finally:
        _frozen.reset(token)
