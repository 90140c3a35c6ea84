"""Notifications (通知): the in-app inbox, and the outbox of e-mail and group-robot deliveries.

``Notification`` rows are what a user sees under the bell. ``Delivery`` rows are a transactional
outbox: they are inserted in the same transaction as the event that caused them and sent later
by a Celery worker, so a ticket is never lost or delayed because the broker or a robot is down.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from opsdesk.models import TimeStampedModel


class NotificationKind(models.TextChoices):
    """Well-known kinds; the field is free text so that new producers need no migration."""

    ESCALATION = "escalation", _("超时升级")
    GRADE1_CREATED = "grade1_created", _("一级故障新建")
    ASSIGNED = "assigned", _("派单")
    TEST = "test", _("测试消息")


class NotificationQuerySet(models.QuerySet):
    def for_recipient(self, user) -> NotificationQuerySet:
        return self.filter(recipient=user)

    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)

    def expired(self, *, read_before: datetime, created_before: datetime) -> NotificationQuerySet:
        """Read before ``read_before``, or created (read or not) before ``created_before``."""
        return self.filter(Q(read_at__lt=read_before) | Q(created_at__lt=created_before))


class Notification(models.Model):
    """One in-app notification (站内通知) for one user; ``read_at`` is set once, when read."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("接收人"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    ticket = models.ForeignKey(
        "tickets.Ticket",
        verbose_name=_("工单"),
        on_delete=models.CASCADE,
        related_name="notifications",
        null=True,
        blank=True,
    )
    kind = models.CharField(_("类型"), max_length=50)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    url = models.CharField(_("链接"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-id"]
        indexes = [
            # The bell (unread count) and the inbox list both start from this index.
            models.Index(fields=["recipient", "read_at", "-id"], name="notification_inbox"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None

    @property
    def kind_label(self) -> str:
        try:
            return NotificationKind(self.kind).label
        except ValueError:
            return self.kind


class WebhookKind(models.TextChoices):
    WECOM = "wecom", _("企业微信群机器人")
    DINGTALK = "dingtalk", _("钉钉群机器人")
    GENERIC = "generic", _("通用 JSON Webhook")


def validate_kinds(value) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(
            _('请填写通知类型的 JSON 列表，例如 ["escalation"]；留空列表表示全部。')
        )


def validate_http_url(value: str) -> None:
    # urllib would also open file:// and ftp:// URLs; only web hooks are allowed.
    if urlsplit(value).scheme not in {"http", "https"}:
        raise ValidationError(_("只支持 http:// 或 https:// 地址。"))


def redact_url(url: str) -> str:
    """The URL without its query string: robot URLs carry their credential (key/access_token)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class WebhookEndpointQuerySet(models.QuerySet):
    def active(self) -> WebhookEndpointQuerySet:
        return self.filter(is_active=True)


class WebhookEndpoint(TimeStampedModel):
    """A group robot (群机器人) or other webhook that receives notifications of some kinds."""

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=WebhookKind.choices)
    url = models.URLField(_("Webhook 地址"), max_length=500, validators=[validate_http_url])
    is_active = models.BooleanField(_("启用"), default=True)
    kinds = models.JSONField(
        _("通知类型"),
        default=list,
        blank=True,
        validators=[validate_kinds],
        help_text=_('只推送这些类型的通知（JSON 列表，如 ["escalation"]）；空列表表示全部。'),
    )
    secret = models.CharField(
        _("加签密钥"),
        max_length=200,
        blank=True,
        help_text=_("钉钉机器人“加签”安全设置的密钥（SEC 开头）；不加签则留空。"),
    )

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        verbose_name = _("Webhook 机器人")
        verbose_name_plural = _("Webhook 机器人")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # The admin's JSON field turns an emptied box into None; empty means "all kinds".
        if self.kinds is None:
            self.kinds = []

    def accepts(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


class DeliveryChannel(models.TextChoices):
    EMAIL = "email", _("电子邮件")
    WEBHOOK = "webhook", _("Webhook")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("失败")


class DeliveryQuerySet(models.QuerySet):
    def finished(self) -> DeliveryQuerySet:
        """Sent, or failed for good: nothing will send these again (unless requeued by hand)."""
        return self.filter(status__in=[DeliveryStatus.SENT, DeliveryStatus.FAILED])

    def unfinished(self) -> DeliveryQuerySet:
        """Pending (first attempt or waiting for a retry) or being sent by a worker."""
        return self.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING])

    def due(self, *, now: datetime, first_attempt_grace, stale_after) -> DeliveryQuerySet:
        """Deliveries the outbox sweep should (re)enqueue at ``now``.

        - first attempts older than the grace period: their publish on commit was lost
          (broker down) or the queue is that far behind;
        - retries whose backoff has elapsed (nobody else enqueues those);
        - claims older than ``stale_after``: the worker died mid-send.
        """
        return self.filter(
            Q(
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at__lte=now - first_attempt_grace,
            )
            | Q(status=DeliveryStatus.PENDING, attempts__gt=0, next_attempt_at__lte=now)
            | Q(status=DeliveryStatus.SENDING, claimed_at__lt=now - stale_after)
        )


class Delivery(models.Model):
    """One message to send on one channel (发送记录): an e-mail to a user or a robot post.

    The row is the outbox entry and the log at once. A worker claims it (pending → sending) with
    a conditional UPDATE before sending, so two workers never send it twice.
    """

    channel = models.CharField(_("渠道"), max_length=20, choices=DeliveryChannel.choices)
    notification = models.ForeignKey(
        Notification,
        verbose_name=_("通知"),
        on_delete=models.CASCADE,
        related_name="deliveries",
        null=True,
        blank=True,
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        verbose_name=_("Webhook 机器人"),
        on_delete=models.SET_NULL,
        related_name="deliveries",
        null=True,
        blank=True,
    )
    address = models.CharField(
        _("收件地址"),
        max_length=500,
        help_text=_("邮箱地址；Webhook 为不含密钥参数的地址，仅供查看。"),
    )
    payload = models.JSONField(_("消息内容"), default=dict)
    status = models.CharField(
        _("状态"), max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("已尝试次数"), default=0)
    max_attempts = models.PositiveSmallIntegerField(_("最多尝试次数"), default=6)
    next_attempt_at = models.DateTimeField(_("下次尝试时间"), default=timezone.now)
    claimed_at = models.DateTimeField(_("领取时间"), null=True, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name = _("发送记录")
        verbose_name_plural = _("发送记录")
        ordering = ["-id"]
        indexes = [
            # The outbox sweep: only unfinished rows, by due time.
            models.Index(
                fields=["next_attempt_at", "id"],
                name="delivery_outbox_due",
                condition=Q(status__in=["pending", "sending"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(claimed_at__isnull=False),
                name="delivery_sending_is_claimed",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="delivery_sent_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.address}"
