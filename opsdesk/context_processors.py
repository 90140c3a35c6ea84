from directory import roles


def navigation(request) -> dict:
    """Role flags for the base layout's navigation; computed once per request."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav": {
            "home_kind": roles.home_kind(user),
            "role": roles.primary_role(user),
            "is_desk": roles.is_desk(user),
            "is_vendor": roles.is_vendor_staff(user),
            "is_oversight": roles.is_oversight(user),
            "is_requester": roles.is_requester(user),
            "is_admin": user.is_staff,
        }
    }
