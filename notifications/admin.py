"""Admin: robots are configured here; notifications and deliveries are read-only logs."""

from django.contrib import admin, messages
from django.db import models
from django.utils.translation import gettext_lazy as _

from notifications import services
from notifications.models import Delivery, DeliveryStatus, Notification, WebhookEndpoint, redact_url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "address", "kinds", "is_active", "updated_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    actions = ["send_test_message"]
    # Robot URLs are always typed in full; silences Django 6's scheme default change.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description=_("地址（不含密钥）"))
    def address(self, obj: WebhookEndpoint) -> str:
        return redact_url(obj.url)

    @admin.action(description=_("发送测试消息"))
    def send_test_message(self, request, queryset):
        for delivery in services.webhook_endpoints_test(endpoints=list(queryset)):
            if delivery.status == DeliveryStatus.SENT:
                self.message_user(
                    request, _("“%(name)s”：测试消息已发送。") % {"name": delivery.endpoint}
                )
            else:
                self.message_user(
                    request,
                    _("“%(name)s”：发送失败：%(error)s")
                    % {"name": delivery.endpoint, "error": delivery.last_error},
                    level=messages.ERROR,
                )


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["title", "kind", "recipient", "ticket", "created_at", "read_at"]
    list_filter = ["kind", ("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "recipient__username", "recipient__full_name"]
    list_select_related = ["recipient", "ticket"]
    date_hierarchy = "created_at"


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "channel",
        "address",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error_short",
    ]
    list_filter = ["status", "channel", "endpoint"]
    search_fields = ["address", "notification__title"]
    list_select_related = ["endpoint"]
    date_hierarchy = "created_at"
    actions = ["requeue"]

    @admin.display(description=_("最近错误"))
    def last_error_short(self, obj: Delivery) -> str:
        return obj.last_error[:80]

    @admin.action(description=_("重新发送失败的记录"))
    def requeue(self, request, queryset):
        count = services.deliveries_requeue(
            delivery_ids=list(queryset.values_list("pk", flat=True))
        )
        self.message_user(
            request, _("已重新排队 %(count)d 条，稍后由后台发送。") % {"count": count}
        )
