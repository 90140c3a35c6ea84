"""The ticket list (工单列表), its Excel export and the desk's bulk actions."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from directory import roles
from opsdesk.errors import DomainError
from tickets import exports, selectors, services
from tickets.access import visible_tickets
from tickets.forms import BulkActionForm
from tickets.views.common import desk_required, safe_next
from tickets.views.listing import PAGE_SIZES, QUEUE_LABELS, SORT_LABELS, listing_from


@login_required
@require_GET
def ticket_list(request):
    """Any role's scoped list: queue tabs, filters, search, sort links, keyset pages.

    A search for a whole ticket number the user may see opens that ticket.
    """
    jump_to = selectors.ticket_id_by_number(request.user, request.GET.get("search", ""))
    if jump_to is not None:
        return redirect("tickets:detail", pk=jump_to)
    listing = listing_from(request, now=timezone.now())
    page, bad_cursor = listing.page(request)
    if bad_cursor:
        messages.warning(request, _("分页参数无效，已回到第一页。"))
    is_desk = roles.is_desk(request.user)
    show_queues = is_desk or roles.is_oversight(request.user)
    context = {
        "listing": listing,
        "page": page,
        "filter_form": listing.filterset.form,
        # Called by the template only when the controls are not cached.
        "choice_filters": listing.filterset.choice_filters,
        "select_filters": listing.filterset.select_filters,
        "controls_key": _controls_key(request, is_desk, show_queues),
        "queues": QUEUE_LABELS,
        "sorts": SORT_LABELS,
        "page_sizes": PAGE_SIZES,
        "bulk": _bulk_bar(request) if is_desk else None,
        "can_log_call": is_desk,
        "show_queues": show_queues,
    }
    return render(request, "tickets/list.html", context)


def _controls_key(request, is_desk: bool, show_queues: bool) -> str:
    """Everything the list's controls (heading, queue tabs, filter bar) depend on but the language.

    They are a third of the page's rendering time and the same on every page of one list: the
    template caches them under this key (the query string without the page cursor, the
    role-dependent parts and the option lists' version), so paging re-renders only the rows.
    """
    query = [
        (name, value)
        for name, values in request.GET.lists()
        if name not in ("after", "before")
        for value in values
    ]
    version = selectors.list_options().version
    return f"{int(is_desk)}{int(show_queues)}:{version}:{urlencode(query)}"


def _bulk_bar(request) -> dict:
    """What the bulk bar shows, read off ``BulkActionForm`` without instantiating it.

    An instance copies its fields and queries the vendors, and each widget it renders is a
    template render of its own: about a millisecond on every page of the desk's hottest view.
    """
    fields = BulkActionForm.base_fields
    return {
        "next": request.get_full_path(),
        "action_label": fields["action"].label,
        "actions": fields["action"].choices,
        "vendor_label": fields["vendor"].label,
        "vendors": selectors.list_options().dispatch_vendors,
    }


@login_required
@require_GET
def ticket_export(request):
    """The filtered list as .xlsx: same scope, queue, filters, search and order as the page."""
    listing = listing_from(request, now=timezone.now())
    return exports.tickets_xlsx_response(listing.ordered())


@login_required
@desk_required
@require_POST
def ticket_bulk(request):
    """Dispatch or close the checked tickets one by one through the services; report refusals."""
    form = BulkActionForm(request.POST)
    back = safe_next(request, request.POST.get("next"), "tickets:list")
    if not form.is_valid():
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        messages.error(request, _("批量操作未执行：%(errors)s") % {"errors": errors})
        return redirect(back)
    done, refused = _bulk_apply(request.user, form.cleaned_data)
    summary = _("%(done)s 张已完成，%(refused)s 张被拒绝。") % {
        "done": done,
        "refused": len(refused),
    }
    if refused:
        messages.warning(request, f"{summary} " + "；".join(refused))
    else:
        messages.success(request, summary)
    return redirect(back)


def _bulk_apply(user, data: dict) -> tuple[int, list[str]]:
    """Each ticket in its own service call (own transaction): one refusal never blocks others."""
    selected = data["tickets"]
    numbers = dict(
        visible_tickets(user).filter(pk__in=[pk for pk, _v in selected]).values_list("pk", "number")
    )
    done, refused = 0, []
    for pk, version in selected:
        try:
            if data["action"] == BulkActionForm.DISPATCH:
                services.ticket_assign(
                    actor=user, ticket_id=pk, vendor=data["vendor"], expected_version=version
                )
            else:
                services.ticket_close(actor=user, ticket_id=pk, expected_version=version)
        except DomainError as error:
            refused.append(f"{numbers.get(pk, pk)}：{error}")
        else:
            done += 1
    return done, refused
