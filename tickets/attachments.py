"""Ticket attachments (附件): upload with validation, and the access check before a download.

Files are stored through the model's ``FileField`` under generated names (``attachments/
YYYY/MM/<uuid>``, see ``tickets.models.attachment_path``) in ``MEDIA_ROOT``, which is outside
the web root: they are only ever served by ``tickets.downloads`` after ``attachment_open``.
The uploaded name is kept as display text only and never touches the filesystem.
"""

from __future__ import annotations

import mimetypes
import unicodedata
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from opsdesk import clock
from opsdesk.errors import NotFound, NotPermitted, ValidationFailed
from tickets import access
from tickets.access import Action
from tickets.events import event_record
from tickets.models import EventAction, Ticket, TicketAttachment

# The extension decides the stored (served) content type; these do not depend on the host's
# /etc/mime.types. Types added through settings fall back to ``mimetypes``.
EXTENSION_TYPES = {
    ".txt": "text/plain",
    ".log": "text/plain",
    ".csv": "text/csv",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".zip": "application/zip",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".doc": "application/msword",
    ".xls": "application/vnd.ms-excel",
}

_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_OLE2 = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)
# Leading bytes each binary type must start with; a mismatch means a renamed file.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/zip": _ZIP,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": _ZIP,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _ZIP,
    "application/msword": _OLE2,
    "application/vnd.ms-excel": _OLE2,
}
TEXT_TYPES = frozenset({"text/plain", "text/csv"})
SNIFF_BYTES = 2048
MAX_NAME_LENGTH = 255


def _clean_name(name: str) -> str:
    """The display name: last path segment, no control/format characters, at most 255 long."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    # Category C covers control characters and bidi overrides (U+202E) that disguise extensions.
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if len(name) > MAX_NAME_LENGTH:
        suffix = PurePosixPath(name).suffix[:20]
        name = name[: MAX_NAME_LENGTH - len(suffix)] + suffix
    return name


def _type_of_name(name: str) -> str | None:
    suffix = PurePosixPath(name).suffix.lower()
    if not suffix:
        return None
    return EXTENSION_TYPES.get(suffix) or mimetypes.guess_type(f"x{suffix}", strict=False)[0]


def _head(upload: UploadedFile) -> bytes:
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    return head


def _content_matches(content_type: str, head: bytes) -> bool:
    """Whether the first bytes are plausible for the type (only the types we know how to sniff)."""
    if content_type in SIGNATURES:
        return head.startswith(SIGNATURES[content_type])
    if content_type in TEXT_TYPES:
        binary = any(head.startswith(sig) for sigs in SIGNATURES.values() for sig in sigs)
        return b"\x00" not in head and not binary
    return True


def attachment_validate(upload: UploadedFile) -> tuple[str, str]:
    """Check size, declared type, extension and leading bytes; returns (name, content type).

    The declared type (the client's ``Content-Type`` of the part) and the type implied by the
    extension must both be allowed, and the leading bytes must match the extension's type.
    """
    allowed = set(settings.OPSDESK_ATTACHMENT_CONTENT_TYPES)
    size = upload.size or 0
    if size <= 0:
        raise ValidationFailed(_("文件为空。"), field="file")
    if size > settings.OPSDESK_ATTACHMENT_MAX_BYTES:
        raise ValidationFailed(
            _("文件过大，最大 %(max)s。")
            % {"max": filesizeformat(settings.OPSDESK_ATTACHMENT_MAX_BYTES)},
            field="file",
        )
    name = _clean_name(upload.name)
    if not name:
        raise ValidationFailed(_("缺少文件名。"), field="file")
    declared = (upload.content_type or "").split(";", 1)[0].strip().lower()
    by_name = _type_of_name(name)
    if declared not in allowed or by_name not in allowed:
        raise ValidationFailed(
            _("不支持的文件类型“%(type)s”。") % {"type": by_name or declared or "?"},
            field="file",
        )
    if not _content_matches(by_name, _head(upload)):
        raise ValidationFailed(_("文件内容与扩展名不符。"), field="file")
    return name, by_name


def _require_attach(actor, ticket: Ticket, internal: bool) -> None:
    access.require_action(actor, ticket, Action.ATTACH)
    if internal and not access.can_see_internal(actor):
        raise NotPermitted(_("您不能上传内部附件。"))


def attachment_add(
    *, actor, ticket_id, upload: UploadedFile, internal: bool = False
) -> TicketAttachment:
    """Attach a file to a ticket the actor may see and attach to.

    Requesters may not upload internal (内部) attachments. The file is written before the
    transaction (no disk I/O while the ticket row is locked) and removed again if the
    transaction fails. Side effects: ``ticket.updated_at`` and an ``attached`` event; for an
    internal file the event is marked ``internal`` so requesters' timelines skip it.
    """
    # Access first, so that another vendor's ticket is a 404 whatever the file looks like.
    _require_attach(actor, access.access_ticket(actor, ticket_id), internal)
    name, content_type = attachment_validate(upload)
    field = TicketAttachment._meta.get_field("file")
    stored_name = field.storage.save(field.generate_filename(None, name), upload)
    try:
        with transaction.atomic():
            ticket = access.access_ticket(actor, ticket_id, for_update=True)
            _require_attach(actor, ticket, internal)
            now = clock.now()
            attachment = TicketAttachment.objects.create(
                ticket=ticket,
                uploaded_by=actor,
                file=stored_name,
                original_name=name,
                content_type=content_type,
                size=upload.size,
                internal=internal,
                created_at=now,
            )
            Ticket.objects.filter(pk=ticket.pk).update(updated_at=now)
            changes: dict[str, list] = {"attachment": [None, name]}
            if internal:
                changes["internal"] = [None, True]
            event_record(
                ticket=ticket, actor=actor, action=EventAction.ATTACHED, at=now, changes=changes
            )
    except BaseException:
        field.storage.delete(stored_name)
        raise
    return attachment


def attachment_open(*, user, attachment_id) -> TicketAttachment:
    """The attachment if ``user`` may download it, else ``NotFound``.

    Not found also when the ticket belongs to another vendor or the file is internal and the
    user may not see internal material (requesters): its existence is not revealed.
    """
    try:
        attachment = TicketAttachment.objects.get(pk=attachment_id)
    except (TicketAttachment.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None
    access.access_ticket(user, attachment.ticket_id)
    if attachment.internal and not access.can_see_internal(user):
        raise NotFound()
    return attachment
