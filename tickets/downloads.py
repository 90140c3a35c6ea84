"""Attachment downloads, shared by the web pages and the API (``download_url``).

A plain function view: the browser's session, or an API client's ``Authorization: Token``.
Files are always sent as downloads (never rendered inline) with ``nosniff``, so an uploaded
HTML or SVG file cannot run in the site's origin.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from rest_framework.exceptions import AuthenticationFailed

from directory.auth import TokenAuthentication
from opsdesk.errors import NotFound
from tickets.attachments import attachment_open


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the exact UTF-8 name (RFC 6266 / RFC 5987)."""
    fallback = "".join(
        ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_"
        for ch in unicodedata.normalize("NFKD", filename)
        if not unicodedata.combining(ch)
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _user(request: HttpRequest):
    if request.user.is_authenticated:
        return request.user
    try:
        result = TokenAuthentication().authenticate(request)
    except AuthenticationFailed:
        return None
    return result[0] if result else None


@require_GET
def attachment_download(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    if user is None:
        if "HTTP_AUTHORIZATION" in request.META:
            return HttpResponse(status=401, headers={"WWW-Authenticate": "Token"})
        return redirect_to_login(request.get_full_path())
    try:
        attachment = attachment_open(user=user, attachment_id=pk)
        handle = attachment.file.open("rb")
    except (NotFound, FileNotFoundError):
        raise Http404 from None
    response = FileResponse(handle, content_type=attachment.content_type)
    response["Content-Disposition"] = content_disposition(attachment.original_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
