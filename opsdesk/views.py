from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from directory import roles

HOME_TEMPLATES = {
    "desk": "home/desk.html",
    "vendor": "home/vendor.html",
    "oversight": "home/oversight.html",
    "requester": "home/requester.html",
}


@login_required
def home(request):
    """Each role lands on its own home page."""
    kind = roles.home_kind(request.user)
    context = {"home_kind": kind, "role_label": _role_label(request.user)}
    return render(request, HOME_TEMPLATES[kind], context)


def _role_label(user) -> str:
    role = roles.primary_role(user)
    return role.label if role else ""
