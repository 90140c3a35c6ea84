from django import template

from notifications import selectors

register = template.Library()

_CACHE_ATTR = "_opsdesk_unread_notifications"


@register.simple_tag(takes_context=True)
def unread_notification_count(context) -> int:
    """The bell's number: one COUNT query per request, however often the layout asks."""
    request = context.get("request")
    user = context.get("user") or getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    if request is None:
        return selectors.notifications_unread_count(user=user)
    if not hasattr(request, _CACHE_ATTR):
        setattr(request, _CACHE_ATTR, selectors.notifications_unread_count(user=user))
    return getattr(request, _CACHE_ATTR)
