"""The ticket page (工单详情) and its POST-only actions: transitions, comments, attachments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET, require_POST

from opsdesk.errors import Conflict, DomainError
from tickets import selectors, services
from tickets.access import Action
from tickets.attachments import attachment_add
from tickets.forms import (
    ActionForm,
    AssignForm,
    AttachmentForm,
    CommentForm,
    LinkForm,
    ReasonForm,
    RegradeForm,
    ResolveForm,
)
from tickets.models import Ticket
from tickets.views.common import form_error, ticket_or_404


@dataclass(frozen=True)
class ActionSpec:
    """A transition on the ticket page: its form, its service and how its button looks."""

    name: str
    label: str
    form: type[ActionForm]
    service: Callable[..., Ticket]
    style: str = "btn-outline-primary"


# Page order. Form fields are named like the service's keyword arguments.
ACTIONS = {
    spec.name: spec
    for spec in (
        ActionSpec(
            Action.ACCEPT, gettext_lazy("接单"), ActionForm, services.ticket_accept, "btn-primary"
        ),
        ActionSpec(
            Action.START, gettext_lazy("开始处理"), ActionForm, services.ticket_start, "btn-primary"
        ),
        ActionSpec(
            Action.RESUME,
            gettext_lazy("恢复处理"),
            ActionForm,
            services.ticket_resume,
            "btn-primary",
        ),
        ActionSpec(
            Action.ASSIGN, gettext_lazy("派单"), AssignForm, services.ticket_assign, "btn-primary"
        ),
        ActionSpec(
            Action.RESOLVE,
            gettext_lazy("解决"),
            ResolveForm,
            services.ticket_resolve,
            "btn-success",
        ),
        ActionSpec(
            Action.CLOSE, gettext_lazy("关闭"), ActionForm, services.ticket_close, "btn-success"
        ),
        ActionSpec(Action.PEND, pgettext_lazy("action", "挂起"), ReasonForm, services.ticket_pend),
        ActionSpec(Action.REGRADE, gettext_lazy("调整级别"), RegradeForm, services.ticket_regrade),
        ActionSpec(Action.REOPEN, gettext_lazy("重新打开"), ReasonForm, services.ticket_reopen),
        ActionSpec(
            Action.CANCEL,
            gettext_lazy("取消工单"),
            ReasonForm,
            services.ticket_cancel,
            "btn-outline-danger",
        ),
    )
}


@login_required
@require_GET
def ticket_detail(request, pk: int):
    ticket = ticket_or_404(request.user, pk)
    return render(request, "tickets/detail.html", detail_context(request, ticket))


@login_required
@require_POST
def ticket_action(request, pk: int, action: str):
    """One transition with the version the user saw; a refusal re-renders the page with why."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404
    ticket = ticket_or_404(request.user, pk)
    form = spec.form(request.POST, ticket=ticket)
    if form.is_valid():
        try:
            spec.service(actor=request.user, ticket_id=ticket.pk, **form.cleaned_data)
        except DomainError as error:
            return _refused(request, pk, error, action=action, form=form)
        messages.success(request, _("已%(action)s。") % {"action": spec.label})
        return redirect("tickets:detail", ticket.pk)
    context = detail_context(request, ticket, bound={action: form})
    return render(request, "tickets/detail.html", context, status=400)


@login_required
@require_POST
def ticket_comment(request, pk: int):
    ticket = ticket_or_404(request.user, pk)
    allow_internal = Action.COMMENT_INTERNAL in services.allowed_actions(request.user, ticket)
    form = CommentForm(request.POST, allow_internal=allow_internal)
    if form.is_valid():
        try:
            services.comment_add(actor=request.user, ticket_id=ticket.pk, **form.cleaned_data)
        except DomainError as error:
            return _refused(request, pk, error, action="comment", form=form)
        messages.success(request, _("评论已添加。"))
        return redirect(f"{ticket_url(ticket)}#comments")
    context = detail_context(request, ticket, bound={"comment": form})
    return render(request, "tickets/detail.html", context, status=400)


@login_required
@require_POST
def ticket_link(request, pk: int):
    """The desk relates this ticket to another, given by number (duplicate, cause, related)."""
    ticket = ticket_or_404(request.user, pk)
    form = LinkForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        target = selectors.ticket_list(request.user).filter(number=data["target_number"]).first()
        if target is None:
            form.add_error("target_number", _("找不到该工单号。"))
        else:
            try:
                services.ticket_link(
                    actor=request.user,
                    ticket_id=ticket.pk,
                    target_id=target.pk,
                    kind=data["kind"],
                    note=data["note"],
                )
            except DomainError as error:
                return _refused(request, pk, error, action="link", form=form)
            messages.success(request, _("已关联工单 %(number)s。") % {"number": target.number})
            return redirect(f"{ticket_url(ticket)}#links")
    context = detail_context(request, ticket, bound={"link": form})
    return render(request, "tickets/detail.html", context, status=400)


@login_required
@require_POST
def ticket_attach(request, pk: int):
    ticket = ticket_or_404(request.user, pk)
    allow_internal = Action.COMMENT_INTERNAL in services.allowed_actions(request.user, ticket)
    form = AttachmentForm(request.POST, request.FILES, allow_internal=allow_internal)
    if form.is_valid():
        data = form.cleaned_data
        try:
            attachment_add(
                actor=request.user,
                ticket_id=ticket.pk,
                upload=data["file"],
                internal=data.get("internal", False),
            )
        except DomainError as error:
            return _refused(request, pk, error, action="attach", form=form)
        messages.success(request, _("附件已上传。"))
        return redirect(f"{ticket_url(ticket)}#attachments")
    context = detail_context(request, ticket, bound={"attach": form})
    return render(request, "tickets/detail.html", context, status=400)


def _refused(request, pk: int, error: DomainError, *, action: str, form: forms.Form):
    """The service said no: show why on the page as it is now (409 conflict, 400, 403)."""
    form_error(form, error)  # raises Http404 for NotFound
    messages.error(request, str(error))
    ticket = ticket_or_404(request.user, pk)
    # After a conflict the user's form is out of date: offer fresh forms at the new version.
    bound = {} if isinstance(error, Conflict) else {action: form}
    context = detail_context(request, ticket, bound=bound)
    return render(request, "tickets/detail.html", context, status=error.http_status)


def ticket_url(ticket: Ticket) -> str:
    return reverse("tickets:detail", args=[ticket.pk])


def _links_with_original(user, ticket: Ticket) -> list[tuple[str, str, Ticket]]:
    links = selectors.links_for(user, ticket)
    original = selectors.duplicate_original(user, ticket)
    return [("duplicate_of", "out", original), *links] if original else links


def detail_context(request, ticket: Ticket, *, bound: dict | None = None) -> dict:
    """Everything the page shows; forms only for what this user may do to this ticket now."""
    user, bound = request.user, bound or {}
    allowed = set(services.allowed_actions(user, ticket))
    action_forms = [
        (spec, bound.get(name) or spec.form(ticket=ticket))
        for name, spec in ACTIONS.items()
        if name in allowed
    ]
    comment_form = None
    if Action.COMMENT in allowed:
        internal = Action.COMMENT_INTERNAL in allowed
        comment_form = bound.get("comment") or CommentForm(allow_internal=internal)
    attachment_form = None
    if Action.ATTACH in allowed:
        internal = Action.COMMENT_INTERNAL in allowed
        attachment_form = bound.get("attach") or AttachmentForm(allow_internal=internal)
    link_form = None
    if Action.EDIT in allowed:
        link_form = bound.get("link") or LinkForm()
    return {
        "ticket": ticket,
        "links": _links_with_original(user, ticket),
        "link_form": link_form,
        "attachment_form": attachment_form,
        "allowed": allowed,
        "action_forms": action_forms,
        "open_action": next(iter(bound), None),
        "comment_form": comment_form,
        "comments": selectors.comments_for(user, ticket),
        "events": selectors.events_for(user, ticket),
        "attachments": selectors.attachments_for(user, ticket),
        "dispatches": ticket.dispatches.all(),
    }
