"""The outside world: build robot payloads, sign DingTalk requests, POST them, send e-mail.

No database access here. ``DeliveryError`` means "this attempt failed"; ``permanent=True`` means
retrying cannot help (bad configuration), so the outbox gives up at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from urllib.parse import quote_plus, urlsplit

from django.conf import settings
from django.core.mail import EmailMessage

from notifications.models import WebhookKind

# Robots answer within a second; a hung one must not hold a worker for long.
WEBHOOK_TIMEOUT_SECONDS = 5
# WeCom rejects text messages above 2048 UTF-8 bytes (DingTalk allows more): stay below both.
MAX_CONTENT_BYTES = 2000
MAX_ERROR_CHARS = 500


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message[:MAX_ERROR_CHARS])
        self.permanent = permanent


def absolute_url(url: str) -> str:
    """Links inside e-mails and robot messages must be absolute to be clickable."""
    base = getattr(settings, "OPSDESK_SITE_URL", "") or ""
    if not url or urlsplit(url).scheme or not base:
        return url
    return base.rstrip("/") + "/" + url.lstrip("/")


def message_text(*, title: str, body: str, url: str) -> str:
    """Title, body and link as one robot text; a long body is cut so the link survives."""
    head, link = f"【{title}】", absolute_url(url)
    fixed = len(head.encode("utf-8")) + (len(link.encode("utf-8")) + 1 if link else 0)
    body = truncate_utf8(body, max(MAX_CONTENT_BYTES - fixed - 1, 0)) if body else ""
    return truncate_utf8("\n".join(part for part in (head, body, link) if part), MAX_CONTENT_BYTES)


def truncate_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    ellipsis = "…"
    budget = max_bytes - len(ellipsis.encode("utf-8"))
    return encoded[:budget].decode("utf-8", "ignore") + ellipsis


def email_body(*, body: str, url: str) -> str:
    link = absolute_url(url)
    return f"{body}\n\n{link}" if body and link else body or link


def webhook_payload(*, endpoint_kind: str, kind: str, title: str, body: str, url: str, ticket_id):
    """The JSON body a robot of ``endpoint_kind`` expects."""
    if endpoint_kind in (WebhookKind.WECOM, WebhookKind.DINGTALK):
        # Both robots accept {"msgtype": "text", "text": {"content": ...}}.
        return {
            "msgtype": "text",
            "text": {"content": message_text(title=title, body=body, url=url)},
        }
    return {
        "kind": kind,
        "title": title,
        "body": body,
        "url": absolute_url(url),
        "ticket_id": ticket_id,
    }


def dingtalk_signed_url(url: str, secret: str, *, timestamp_ms: int | None = None) -> str:
    """Append DingTalk's ``timestamp`` and ``sign`` (HMAC-SHA256 of "timestamp\\nsecret")."""
    timestamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256
    ).digest()
    sign = quote_plus(base64.b64encode(digest).decode("ascii"))
    separator = "&" if urlsplit(url).query else "?"
    return f"{url}{separator}timestamp={timestamp}&sign={sign}"


def webhook_post(*, endpoint_kind: str, url: str, secret: str, payload: dict) -> None:
    """POST ``payload``; raise ``DeliveryError`` unless the robot confirms (errcode 0)."""
    if urlsplit(url).scheme not in {"http", "https"}:
        raise DeliveryError(f"unsupported URL scheme: {urlsplit(url).scheme!r}", permanent=True)
    if endpoint_kind == WebhookKind.DINGTALK and secret:
        url = dingtalk_signed_url(url, secret)
    request = urllib.request.Request(
        url,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            raw = response.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code}: {exc.read(500).decode('utf-8', 'replace')}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
    if endpoint_kind in (WebhookKind.WECOM, WebhookKind.DINGTALK):
        # Both robots answer HTTP 200 even on errors; the verdict is in errcode.
        try:
            answer = json.loads(raw.decode("utf-8"))
        except ValueError as exc:
            raise DeliveryError(f"not JSON: {raw[:200]!r}") from exc
        if not isinstance(answer, dict) or answer.get("errcode") != 0:
            raise DeliveryError(f"robot refused: {json.dumps(answer, ensure_ascii=False)}")


def email_send(*, address: str, subject: str, body: str) -> None:
    message = EmailMessage(
        subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[address]
    )
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # smtplib, socket and backend errors alike: retry later
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
