"""Creating and editing tickets: log a phone call (登记来电), file a request, edit (desk)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from directory import roles
from opsdesk.errors import DomainError, StaleVersion
from tickets import services
from tickets.access import Action, require_action
from tickets.forms import LogCallForm, TicketCreateForm, TicketEditForm
from tickets.models import Channel, Ticket
from tickets.services import TicketInput
from tickets.views import once
from tickets.views.common import desk_required, form_error, ticket_or_404

INPUT_FIELDS = (
    "kind",
    "grade",
    "system",
    "category",
    "title",
    "description",
    "requester_name",
    "requester_phone",
    "requester_department",
    "reported_at",
    "channel",
)


def _ticket_input(data: dict, **overrides) -> TicketInput:
    values = {name: data[name] for name in INPUT_FIELDS if name in data}
    return TicketInput(**{**values, **overrides})


@login_required
@desk_required
def ticket_log_call(request):
    """One keyboard-only form: the call is logged and dispatched in a single service call."""
    initial = {"system": request.GET.get("system")} if request.GET.get("system") else None
    form = LogCallForm(request.POST or None, now=timezone.now(), initial=initial)

    def log_call(data: dict) -> Ticket:
        return services.ticket_log_call(
            actor=request.user,
            data=_ticket_input(data, channel=Channel.PHONE),
            vendor=data["vendor"],
            engineer=data["engineer"],
        )

    return _create_page(
        request, form, log_call, done=_("已登记 %(number)s。"), template="tickets/log_call.html"
    )


@login_required
def ticket_new(request):
    """A requester's web request (the service makes them the requester); the desk may use it too."""
    desk = roles.is_desk(request.user)
    if not (desk or roles.is_requester(request.user)):
        raise PermissionDenied
    form = TicketCreateForm(request.POST or None, desk=desk)
    overrides = {} if desk else {"channel": Channel.WEB}

    def create(data: dict) -> Ticket:
        return services.ticket_create(actor=request.user, data=_ticket_input(data, **overrides))

    return _create_page(
        request, form, create, done=_("已提交 %(number)s。"), template="tickets/new.html"
    )


def _create_page(request, form, create: Callable[[dict], Ticket], *, done: str, template: str):
    """A create form's page: ``create(cleaned_data)`` once per submitted form, then its ticket.

    The same form posted again (a double click, a resend) opens the ticket it created
    (``tickets.views.once``); a refusal is shown on the form.
    """
    token = once.posted_token(request)
    if (already := once.created_by(request, token)) is not None:
        messages.info(request, _("该表单已提交过，未重复创建工单。"))
        return redirect("tickets:detail", already)
    if request.method == "POST" and form.is_valid():
        try:
            ticket = create(form.cleaned_data)
        except DomainError as error:
            form_error(form, error)
        else:
            once.remember(request, token, ticket.pk)
            messages.success(request, done % {"number": ticket.number})
            return redirect("tickets:detail", ticket.pk)
    status = 400 if form.is_bound else 200
    context = {"form": form, "submission": once.form_token(request)}
    return render(request, template, context, status=status)


@login_required
def ticket_edit(request, pk: int):
    """The desk corrects descriptive fields; a save over someone else's newer version is refused."""
    ticket = ticket_or_404(request.user, pk)
    require_action_or_403(request.user, ticket, Action.EDIT)
    form = TicketEditForm(request.POST or None, ticket=ticket)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.ticket_update(
                actor=request.user,
                ticket_id=ticket.pk,
                changes=form.changes(),
                expected_version=form.cleaned_data["expected_version"],
            )
        except DomainError as error:
            form_error(form, error)
            status = 409 if isinstance(error, StaleVersion) else error.http_status
        else:
            messages.success(request, _("已保存。"))
            return redirect("tickets:detail", ticket.pk)
    if form.is_bound and status == 200:
        status = 400
    return render(request, "tickets/edit.html", {"form": form, "ticket": ticket}, status=status)


def require_action_or_403(user, ticket, action: str) -> None:
    try:
        require_action(user, ticket, action)
    except DomainError:
        raise PermissionDenied from None
