from django.urls import path

from tickets import downloads
from tickets.views import create, detail, lists

app_name = "tickets"

urlpatterns = [
    path("", lists.ticket_list, name="list"),
    path("export.xlsx", lists.ticket_export, name="export"),
    path("bulk/", lists.ticket_bulk, name="bulk"),
    path("new/", create.ticket_new, name="new"),
    path("new/call/", create.ticket_log_call, name="log-call"),
    path("<int:pk>/", detail.ticket_detail, name="detail"),
    path("<int:pk>/edit/", create.ticket_edit, name="edit"),
    path("<int:pk>/actions/<slug:action>/", detail.ticket_action, name="action"),
    path("<int:pk>/comments/", detail.ticket_comment, name="comment"),
    path("<int:pk>/attachments/", detail.ticket_attach, name="attach"),
    path("<int:pk>/links/", detail.ticket_link, name="link"),
    path(
        "attachments/<int:pk>/download/",
        downloads.attachment_download,
        name="attachment-download",
    ),
]
