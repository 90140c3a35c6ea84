"""The inbox page and the two POST actions behind it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from notifications import selectors, services
from opsdesk.errors import NotFound
from opsdesk.redirects import same_site_path

PAGE_SIZE = 25


@login_required
@require_GET
def notification_list(request):
    page = Paginator(selectors.notifications_for_user(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "notifications/list.html", {"page": page})


@login_required
@require_POST
def notification_read(request, notification_id: int):
    """Mark read, then go where the user was heading (the ticket) or back to the list."""
    try:
        services.notification_mark_read(user=request.user, notification_id=notification_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    return redirect(_safe_next(request) or "notifications:list")


@login_required
@require_POST
def notification_read_all(request):
    count = services.notifications_mark_all_read(user=request.user)
    messages.success(
        request,
        ngettext("%(count)d 条通知已标为已读。", "%(count)d 条通知已标为已读。", count)
        % {"count": count},
    )
    return redirect(_safe_next(request) or "notifications:list")


def _safe_next(request) -> str:
    return same_site_path(request, request.POST.get("next")) or ""
