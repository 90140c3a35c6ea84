"""Logging filters, configured in ``settings.LOGGING`` (so importing no models)."""

from __future__ import annotations

import logging


class SkipUnhealthyProbes(logging.Filter):
    """Drop ``django.request``'s ERROR for each 503 of ``/healthz``.

    An unhealthy probe is the endpoint doing its job, not a server error; ``healthz`` logs a
    warning when the state changes instead (``opsdesk.health``).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        return not (
            getattr(record, "status_code", None) == 503
            and getattr(request, "path", None) == "/healthz"
        )
