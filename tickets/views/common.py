"""Small pieces every ticket view uses: 404 for invisible tickets, role gates, form errors."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import resolve_url

from directory import roles
from opsdesk.errors import DomainError, NotFound
from opsdesk.redirects import same_site_path
from tickets import selectors
from tickets.models import Ticket


def ticket_or_404(user, pk) -> Ticket:
    """The ticket with its relations, or 404 — also when it exists but belongs to another vendor."""
    try:
        return selectors.ticket_detail(user, pk)
    except NotFound:
        raise Http404 from None


def role_required(predicate: Callable) -> Callable:
    """403 unless ``predicate(user)`` (a ``directory.roles`` function); use after login_required."""

    def decorator(view):
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs):
            if not predicate(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


desk_required = role_required(roles.is_desk)


def form_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's ``DomainError`` on the field it names, or on the whole form."""
    if isinstance(error, NotFound):
        raise Http404
    field = error.field if error.field in form.fields else None
    form.add_error(field, str(error))


def safe_next(request: HttpRequest, candidate: str | None, default: str) -> str:
    """A same-site return path from a form, or ``default`` (a URL name or path)."""
    return same_site_path(request, candidate) or resolve_url(default)
