"""Attachments: upload validation, storage, visibility, and the shared download view."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from opsdesk.errors import NotFound, NotPermitted, ValidationFailed
from tests import factories
from tests.tickets.factories import in_progress_ticket, make_ticket
from tickets.attachments import attachment_add, attachment_open
from tickets.downloads import content_disposition
from tickets.models import EventAction, TicketAttachment, TicketEvent

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 20
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
XLSX = b"PK\x03\x04" + b"\x14\x00" * 20
TEXT = "服务器日志：磁盘已满\n".encode()


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def attachments_url(ticket) -> str:
    return reverse("api:ticket-attachments", args=[ticket.pk])


def download_url(attachment_id: int) -> str:
    return reverse("tickets:attachment-download", args=[attachment_id])


def post_file(client, ticket, name, content, content_type="text/plain", **extra):
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    return client.post(attachments_url(ticket), {"file": upload, **extra}, format="multipart")


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def desk():
    return factories.desk_agent()


@pytest.fixture
def vendor():
    return factories.VendorFactory(code="acme")


@pytest.fixture
def engineer(vendor):
    return factories.vendor_engineer(vendor)


@pytest.fixture
def requester():
    return factories.requester()


@pytest.fixture
def ticket(desk, vendor, engineer, requester):
    return in_progress_ticket(vendor=vendor, engineer=engineer, requester=requester)


# ---------------------------------------------------------------------------------------------
# Upload and list


def test_desk_uploads_a_file_and_lists_it_with_a_download_url(desk, ticket, settings):
    # when the desk uploads a log file
    response = post_file(api(desk), ticket, "日志.txt", TEXT)

    # then it is stored under a generated name in MEDIA_ROOT and listed with a download link
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "日志.txt"
    assert body["content_type"] == "text/plain"
    assert body["size"] == len(TEXT)
    assert body["internal"] is False
    assert body["uploaded_by"] == desk.pk
    assert body["download_url"] == f"http://testserver{download_url(body['id'])}"
    stored = TicketAttachment.objects.get(pk=body["id"])
    assert re.fullmatch(r"attachments/\d{4}/\d{2}/[0-9a-f]{32}", stored.file.name)
    assert Path(stored.file.path).is_relative_to(Path(settings.MEDIA_ROOT))
    assert Path(stored.file.path).read_bytes() == TEXT
    listed = api(desk).get(attachments_url(ticket)).json()
    assert listed["count"] == 1
    assert listed["results"][0]["download_url"] == body["download_url"]
    event = TicketEvent.objects.filter(ticket=ticket).latest("id")
    assert event.action == EventAction.ATTACHED
    assert event.changes == {"attachment": [None, "日志.txt"]}


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("截图.png", PNG, "image/png"),
        ("report.pdf", PDF, "application/pdf"),
        ("台账.xlsx", XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("export.csv", b"a,b\n1,2\n", "text/csv"),
        ("export.csv", b"a,b\n1,2\n", "application/vnd.ms-excel"),  # what Windows declares
    ],
)
def test_allowed_types_are_accepted(desk, ticket, name, content, content_type):
    response = post_file(api(desk), ticket, name, content, content_type)

    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("page.html", b"<html><script>alert(1)</script>", "text/html"),
        ("notes.txt", b"hello", "text/html"),  # declared type not allowed
        ("tool.exe", b"MZ\x90\x00", "application/octet-stream"),
        ("tool.exe", b"MZ\x90\x00", "text/plain"),  # extension not allowed
        ("photo.png", b"not really a png", "image/png"),  # content does not match
        ("report.pdf", PNG, "application/pdf"),
        ("notes.txt", PNG, "text/plain"),  # binary dressed as text
        ("notes.txt", b"a\x00b", "text/plain"),
        ("README", b"hello", "text/plain"),  # no extension
        ("empty.txt", b"", "text/plain"),
    ],
)
def test_disallowed_files_are_400_naming_file_and_store_nothing(
    desk, ticket, settings, name, content, content_type
):
    response = post_file(api(desk), ticket, name, content, content_type)

    assert response.status_code == 400, response.content
    assert "file" in response.json()
    assert not TicketAttachment.objects.exists()
    assert stored_files(settings) == []


def test_oversized_file_is_400(desk, ticket, settings):
    settings.OPSDESK_ATTACHMENT_MAX_BYTES = 10

    response = post_file(api(desk), ticket, "big.txt", b"x" * 11)

    assert response.status_code == 400
    assert response.json()["field"] == "file"
    assert stored_files(settings) == []


def test_missing_file_and_unknown_fields_are_400(desk, ticket):
    client = api(desk)

    missing = client.post(attachments_url(ticket), {"internal": "true"}, format="multipart")
    unknown = post_file(client, ticket, "a.txt", b"hi", colour="red")

    assert missing.status_code == 400
    assert "file" in missing.json()
    assert unknown.status_code == 400
    assert "colour" in unknown.json()


def test_json_upload_is_415(desk, ticket):
    response = api(desk).post(attachments_url(ticket), {"file": "aGk="}, format="json")

    assert response.status_code == 415


# ---------------------------------------------------------------------------------------------
# Download


def test_download_sends_the_file_as_an_attachment_with_safe_headers(desk, ticket):
    # given an uploaded picture with a Chinese name
    created = post_file(api(desk), ticket, "故障 截图.png", PNG, "image/png").json()
    client = APIClient()
    client.force_login(desk)

    # when it is downloaded
    response = client.get(download_url(created["id"]))

    # then the bytes come back as a download, never rendered inline or sniffed
    assert response.status_code == 200
    assert body_of(response) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E6%95%85%E9%9A%9C%20%E6%88%AA%E5%9B%BE.png" in disposition
    assert "sandbox" in response["Content-Security-Policy"]


def test_content_disposition_has_an_ascii_fallback():
    assert content_disposition("report.pdf") == (
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
    )
    assert content_disposition('a"b\\c.txt').startswith('attachment; filename="a_b_c.txt";')
    assert content_disposition("报告.txt").startswith('attachment; filename="__.txt";')


def test_download_works_with_an_api_token(desk, ticket):
    created = post_file(api(desk), ticket, "a.txt", b"hello").json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=desk).key}")

    response = client.get(created["download_url"])

    assert response.status_code == 200
    assert body_of(response) == b"hello"


def test_anonymous_download_goes_to_login_and_a_bad_token_is_401(desk, ticket):
    created = post_file(api(desk), ticket, "a.txt", b"hello").json()

    anonymous = APIClient().get(download_url(created["id"]))
    bad = APIClient().get(download_url(created["id"]), HTTP_AUTHORIZATION="Token nope")

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    assert bad.status_code == 401


def test_download_of_an_unknown_or_vanished_file_is_404(desk, ticket):
    created = post_file(api(desk), ticket, "a.txt", b"hello").json()
    TicketAttachment.objects.get(pk=created["id"]).file.delete(save=False)
    client = api(desk)

    assert client.get(download_url(created["id"])).status_code == 404
    assert client.get(download_url(999999)).status_code == 404


def test_download_is_get_only(desk, ticket):
    created = post_file(api(desk), ticket, "a.txt", b"hello").json()

    assert api(desk).post(download_url(created["id"])).status_code == 405


# ---------------------------------------------------------------------------------------------
# Who may upload and see what


def test_requester_may_upload_public_but_not_internal_files(ticket, requester):
    client = api(requester)

    internal = post_file(client, ticket, "a.txt", b"hi", internal="true")
    public = post_file(client, ticket, "a.txt", b"hi")

    assert internal.status_code == 403
    assert public.status_code == 201
    assert public.json()["internal"] is False


def test_requester_never_sees_internal_attachments(desk, ticket, requester):
    # given a public and an internal file
    public = post_file(api(desk), ticket, "公开.txt", b"public").json()
    internal = post_file(api(desk), ticket, "内部.txt", b"secret", internal="true").json()
    assert internal["internal"] is True
    client = api(requester)

    # when the requester lists, downloads and reads the history
    listed = client.get(attachments_url(ticket)).json()
    history = client.get(reverse("api:ticket-history", args=[ticket.pk])).json()

    # then the internal file does not exist for him
    assert [row["name"] for row in listed["results"]] == ["公开.txt"]
    assert client.get(download_url(internal["id"])).status_code == 404
    assert client.get(download_url(public["id"])).status_code == 200
    attached = [row for row in history["results"] if row["action"] == EventAction.ATTACHED]
    assert [row["changes"]["attachment"][1] for row in attached] == ["公开.txt"]
    # while the desk sees both
    assert api(desk).get(attachments_url(ticket)).json()["count"] == 2


def test_vendor_engineer_uploads_internal_files(ticket, engineer):
    response = post_file(api(engineer), ticket, "诊断.txt", b"trace", internal="true")

    assert response.status_code == 201
    assert response.json()["internal"] is True


def test_leader_may_download_but_not_upload(desk, ticket):
    leader = factories.leader()
    created = post_file(api(desk), ticket, "a.txt", b"hello", internal="true").json()

    upload = post_file(api(leader), ticket, "b.txt", b"hi")
    download = api(leader).get(download_url(created["id"]))

    assert upload.status_code == 403
    assert download.status_code == 200


def test_vendor_cannot_see_other_vendors_attachments(desk, ticket, settings):
    # given a file on Acme's ticket and a Globex engineer
    created = post_file(api(desk), ticket, "a.txt", b"hello").json()
    outsider = factories.vendor_engineer(factories.VendorFactory(code="globex"))
    client = api(outsider)
    files_before = stored_files(settings)

    # then list, upload (valid or not) and download are all 404
    assert client.get(attachments_url(ticket)).status_code == 404
    assert post_file(client, ticket, "b.txt", b"hi").status_code == 404
    assert post_file(client, ticket, "b.exe", b"MZ", "text/html").status_code == 404
    assert client.get(download_url(created["id"])).status_code == 404
    token = Token.objects.create(user=outsider).key
    by_token = APIClient().get(download_url(created["id"]), HTTP_AUTHORIZATION=f"Token {token}")
    assert by_token.status_code == 404
    assert stored_files(settings) == files_before


def test_requester_cannot_see_other_requesters_attachments(desk, ticket):
    created = post_file(api(desk), ticket, "a.txt", b"hello").json()
    stranger = factories.requester()

    assert api(stranger).get(download_url(created["id"])).status_code == 404
    assert api(stranger).get(attachments_url(ticket)).status_code == 404


def test_attachment_list_query_count_is_constant(desk, ticket):
    client = api(desk)

    def add(n):
        for i in range(n):
            upload = SimpleUploadedFile(f"{i}.txt", b"x", content_type="text/plain")
            attachment_add(actor=desk, ticket_id=ticket.pk, upload=upload, internal=bool(i % 2))

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(attachments_url(ticket), {"page_size": 100}).status_code == 200
        return len(captured)

    add(5)
    few = count()
    add(45)

    assert count() == few


# ---------------------------------------------------------------------------------------------
# The services directly


def test_attachment_add_keeps_only_a_clean_display_name(desk, ticket):
    upload = SimpleUploadedFile("x.txt", b"hi", content_type="text/plain")
    upload.name = "C:\\Users\\张三\\报告\u202e\x07.txt"

    attachment = attachment_add(actor=desk, ticket_id=ticket.pk, upload=upload)

    assert attachment.original_name == "报告.txt"
    assert "报告" not in attachment.file.name


def test_attachment_add_checks_access_before_the_file(ticket):
    outsider = factories.vendor_engineer(factories.VendorFactory())
    leader = factories.leader()
    bad = SimpleUploadedFile("x.html", b"<html>", content_type="text/html")

    with pytest.raises(NotFound):
        attachment_add(actor=outsider, ticket_id=ticket.pk, upload=bad)
    with pytest.raises(NotPermitted):
        attachment_add(actor=leader, ticket_id=ticket.pk, upload=bad)
    with pytest.raises(ValidationFailed):
        attachment_add(actor=factories.desk_agent(), ticket_id=ticket.pk, upload=bad)


def test_attachment_open_hides_what_the_user_may_not_see(desk, requester):
    mine = make_ticket(actor=desk, requester=requester)
    upload = SimpleUploadedFile("x.txt", b"hi", content_type="text/plain")
    internal = attachment_add(actor=desk, ticket_id=mine.pk, upload=upload, internal=True)

    assert attachment_open(user=desk, attachment_id=internal.pk) == internal
    for attachment_id in (internal.pk, 999999, "abc", None):
        with pytest.raises(NotFound):
            attachment_open(user=requester, attachment_id=attachment_id)
