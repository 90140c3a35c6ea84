"""Where a form may send the user back to."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def same_site_path(request: HttpRequest, candidate: str | None) -> str | None:
    """``candidate`` if it is a path on this site (``/tickets/?page=2``), else ``None``.

    Only paths: ``redirect()`` takes a bare word ("tickets", "1:1") for a URL name and fails
    with a 500 when there is none. Other hosts, ``//host`` and control characters are refused.
    """
    if not candidate or not candidate.startswith("/"):
        return None
    if any(ord(char) < 32 or ord(char) == 127 for char in candidate):
        return None
    if not url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    return candidate
