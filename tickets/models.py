"""Tickets (工单): the service desk's single record of every request, fault, complaint and task."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from directory.models import BusinessSystem, Vendor
from opsdesk.models import TimeStampedModel


class Kind(models.TextChoices):
    INCIDENT = "incident", _("故障")
    REQUEST = "request", _("服务请求")
    COMPLAINT = "complaint", _("投诉")
    TASK = "task", _("督办任务")


NUMBER_PREFIX = {
    Kind.INCIDENT: "INC",
    Kind.REQUEST: "REQ",
    Kind.COMPLAINT: "CMP",
    Kind.TASK: "TSK",
}


class Channel(models.TextChoices):
    PHONE = "phone", _("电话")
    EMAIL = "email", _("邮件")
    WEB = "web", _("网页")
    WALK_IN = "walk_in", _("现场")
    MONITORING = "monitoring", _("监控告警")
    API = "api", _("接口")


class Status(models.TextChoices):
    NEW = "new", _("新建")
    ASSIGNED = "assigned", _("已派单")
    ACCEPTED = "accepted", _("已响应")
    IN_PROGRESS = "in_progress", _("处理中")
    PENDING = "pending", _("挂起")
    RESOLVED = "resolved", _("已解决")
    CLOSED = "closed", _("已关闭")
    CANCELLED = "cancelled", _("已取消")


OPEN_STATUSES = (
    Status.NEW,
    Status.ASSIGNED,
    Status.ACCEPTED,
    Status.IN_PROGRESS,
    Status.PENDING,
)
# States in which the vendor owns the work; only these are visible to the vendor's staff.
VENDOR_ACTIVE_STATUSES = (*OPEN_STATUSES, Status.RESOLVED, Status.CLOSED)


class Grade(models.IntegerChoices):
    """Fault grades of the tender (故障级别): the time limit is part of the definition."""

    ONE = 1, _("一级（1小时）")
    TWO = 2, _("二级（半天）")
    THREE = 3, _("三级（一周）")


class ResolutionCode(models.TextChoices):
    FIXED = "fixed", _("已修复")
    WORKAROUND = "workaround", _("临时规避")
    ADVICE = "advice", _("咨询解答")
    NO_FAULT = "no_fault", _("非故障")
    DUPLICATE = "duplicate", _("重复工单")
    THIRD_PARTY = "third_party", _("第三方处理")
    OTHER = "other", _("其他")


class Category(TimeStampedModel):
    """A classification of requests (分类), e.g. 账号权限, 网络, 数据修正."""

    code = models.SlugField(_("编码"), max_length=50, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("工单分类")
        verbose_name_plural = _("工单分类")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(_("名称"), max_length=50, unique=True)

    class Meta:
        verbose_name = _("标签")
        verbose_name_plural = _("标签")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TicketCounter(models.Model):
    """The last number issued per ``<prefix>-<year>`` scope; bumped with one upsert."""

    scope = models.CharField(max_length=20, unique=True)
    value = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = _("工单编号计数器")
        verbose_name_plural = _("工单编号计数器")

    def __str__(self) -> str:
        return f"{self.scope}: {self.value}"


class TicketQuerySet(models.QuerySet):
    def open(self) -> TicketQuerySet:
        return self.filter(status__literal_in=OPEN_STATUSES)

    def of_vendor(self, vendor_id: int) -> TicketQuerySet:
        return self.filter(vendor_id=vendor_id)

    def breaching(self, *, at: datetime, within_minutes: int = 60) -> TicketQuerySet:
        """Open tickets whose next due instant falls before ``at + within_minutes``."""
        horizon = at + timezone.timedelta(minutes=within_minutes)
        not_responded = Q(responded_at__isnull=True, response_due__lte=horizon)
        not_resolved = Q(resolution_due__lte=horizon) & ~Q(status=Status.PENDING)
        return self.open().filter(not_responded | not_resolved)

    def search(self, text: str) -> TicketQuerySet:
        """Substring search over number, title, description and requester (trigram-indexed)."""
        text = (text or "").strip()
        if not text:
            return self
        return self.filter(search_text__substring=text)


class Ticket(TimeStampedModel):
    """A ticket. State changes go through ``tickets.services``; never ``save()`` it directly."""

    number = models.CharField(_("工单号"), max_length=32, unique=True)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices, default=Kind.INCIDENT)
    channel = models.CharField(_("来源渠道"), max_length=20, choices=Channel.choices)
    grade = models.PositiveSmallIntegerField(
        _("故障级别"), choices=Grade.choices, null=True, blank=True
    )
    title = models.CharField(_("标题"), max_length=200)
    description = models.TextField(_("描述"), blank=True)
    system = models.ForeignKey(
        BusinessSystem,
        verbose_name=_("业务系统"),
        on_delete=models.PROTECT,
        related_name="tickets",
        null=True,
        blank=True,
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("分类"),
        on_delete=models.PROTECT,
        related_name="tickets",
        null=True,
        blank=True,
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("标签"), related_name="tickets", blank=True)

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("报障人账号"),
        on_delete=models.SET_NULL,
        related_name="requested_tickets",
        null=True,
        blank=True,
    )
    requester_name = models.CharField(_("报障人"), max_length=100, blank=True)
    requester_department = models.CharField(_("报障部门"), max_length=100, blank=True)
    requester_phone = models.CharField(_("联系电话"), max_length=50, blank=True)
    requester_email = models.EmailField(_("联系邮箱"), blank=True)

    reported_at = models.DateTimeField(_("报障时间"), default=timezone.now)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.NEW)
    vendor = models.ForeignKey(
        Vendor,
        verbose_name=_("服务商"),
        on_delete=models.PROTECT,
        related_name="tickets",
        null=True,
        blank=True,
    )
    engineer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("处理工程师"),
        on_delete=models.SET_NULL,
        related_name="engineer_tickets",
        null=True,
        blank=True,
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("服务台负责人"),
        on_delete=models.SET_NULL,
        related_name="owned_tickets",
        null=True,
        blank=True,
    )
    assigned_at = models.DateTimeField(_("派单时间"), null=True, blank=True)
    responded_at = models.DateTimeField(_("响应时间"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("解决时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    resolution_code = models.CharField(
        _("解决方式"), max_length=20, choices=ResolutionCode.choices, blank=True
    )
    resolution = models.TextField(_("解决说明"), blank=True)
    first_line_resolution = models.BooleanField(_("服务台一线解决"), default=False)
    pending_reason = models.CharField(_("挂起原因"), max_length=500, blank=True)
    cancel_reason = models.CharField(_("取消原因"), max_length=500, blank=True)
    duplicate_of = models.ForeignKey(
        "self",
        verbose_name=_("重复于"),
        on_delete=models.SET_NULL,
        related_name="duplicates",
        null=True,
        blank=True,
    )

    # SLA: deadlines are stored so that lists sort and filter by them in SQL (see sla.services).
    response_due = models.DateTimeField(_("响应时限"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("解决时限"), null=True, blank=True)
    paused_at = models.DateTimeField(_("挂起开始"), null=True, blank=True)
    paused_working_seconds = models.PositiveIntegerField(_("累计挂起工作时长（秒）"), default=0)

    # Optimistic concurrency: every write bumps it; a writer holding an older one gets a 409.
    version = models.PositiveIntegerField(_("版本"), default=1)
    # Denormalised text for one trigram index: number, title, description, requester.
    search_text = models.TextField(editable=False, default="")

    objects = TicketQuerySet.as_manager()

    class Meta:
        verbose_name = _("工单")
        verbose_name_plural = _("工单")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "-id"], name="ticket_status_id"),
            models.Index(fields=["vendor", "status", "-id"], name="ticket_vendor_status_id"),
            models.Index(fields=["-reported_at", "-id"], name="ticket_reported_id"),
            models.Index(fields=["-updated_at", "-id"], name="ticket_updated_id"),
            models.Index(fields=["system", "-id"], name="ticket_system_id"),
            models.Index(fields=["requester", "-id"], name="ticket_requester_id"),
            models.Index(
                fields=["resolution_due", "id"],
                name="ticket_open_resolution_due",
                condition=Q(status__in=["new", "assigned", "accepted", "in_progress"]),
            ),
            models.Index(
                fields=["response_due", "id"],
                name="ticket_unresponded_due",
                condition=Q(responded_at__isnull=True, status__in=["new", "assigned"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(grade__isnull=True) | Q(grade__gte=1, grade__lte=3),
                name="ticket_grade_1_to_3",
            ),
            models.CheckConstraint(
                condition=~Q(kind="incident") | Q(grade__isnull=False),
                name="ticket_incident_has_grade",
            ),
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(paused_at__isnull=False),
                name="ticket_pending_is_paused",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_paused(self) -> bool:
        return self.status == Status.PENDING

    def build_search_text(self) -> str:
        parts = [self.number, self.title, self.description, self.requester_name]
        return "\n".join(part for part in parts if part)


class TicketDispatch(models.Model):
    """One dispatch (派单) of a ticket to a vendor; a re-dispatch ends the previous one.

    Each dispatch carries the vendor's own response clock (see ``sla``): the KPI counts every
    vendor against the dispatches it received, not against the requester-facing clock.
    """

    ticket = models.ForeignKey(
        Ticket, verbose_name=_("工单"), on_delete=models.CASCADE, related_name="dispatches"
    )
    vendor = models.ForeignKey(
        Vendor, verbose_name=_("服务商"), on_delete=models.PROTECT, related_name="dispatches"
    )
    engineer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("工程师"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    dispatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("派单人"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    dispatched_at = models.DateTimeField(_("派单时间"))
    response_due = models.DateTimeField(_("服务商响应时限"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("接单时间"), null=True, blank=True)
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    note = models.CharField(_("说明"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("派单记录")
        verbose_name_plural = _("派单记录")
        ordering = ["ticket", "dispatched_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket"],
                condition=Q(ended_at__isnull=True),
                name="one_current_dispatch_per_ticket",
            )
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} → {self.vendor_id}"


class LinkKind(models.TextChoices):
    RELATED = "related", _("相关")
    CAUSED_BY = "caused_by", _("由…引起")


LINK_DUPLICATE_OF = "duplicate_of"
# Every way to relate two tickets: duplicate_of is stored on the ticket, the others as links.
LINK_CHOICES = [(LINK_DUPLICATE_OF, _("重复于")), *LinkKind.choices]


class TicketLink(models.Model):
    source = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_in")
    kind = models.CharField(_("关系"), max_length=20, choices=LinkKind.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = _("工单关联")
        verbose_name_plural = _("工单关联")
        constraints = [
            models.UniqueConstraint(fields=["source", "target", "kind"], name="unique_ticket_link"),
            models.CheckConstraint(condition=~Q(source=models.F("target")), name="no_self_link"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.kind} {self.target_id}"


class CommentQuerySet(models.QuerySet):
    def public(self) -> CommentQuerySet:
        return self.filter(internal=False)


class TicketComment(models.Model):
    """A public reply or an internal note (内部备注: never shown to requesters)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField(_("内容"))
    internal = models.BooleanField(_("内部备注"), default=False)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)

    objects = CommentQuerySet.as_manager()

    class Meta:
        verbose_name = _("工单评论")
        verbose_name_plural = _("工单评论")
        ordering = ["ticket", "created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="comment_ticket_time")]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.body[:30]}"


def attachment_path(instance: TicketAttachment, filename: str) -> str:
    # Generated names: the uploaded name never touches the filesystem.
    import uuid

    now = timezone.now()
    return f"attachments/{now:%Y/%m}/{uuid.uuid4().hex}"


class TicketAttachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    comment = models.ForeignKey(
        TicketComment, on_delete=models.SET_NULL, null=True, blank=True, related_name="attachments"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    file = models.FileField(_("文件"), upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("文件名"), max_length=255)
    content_type = models.CharField(_("类型"), max_length=100)
    size = models.PositiveBigIntegerField(_("大小"))
    internal = models.BooleanField(_("仅内部可见"), default=False)
    created_at = models.DateTimeField(_("上传时间"), default=timezone.now)

    class Meta:
        verbose_name = _("附件")
        verbose_name_plural = _("附件")
        ordering = ["ticket", "created_at", "id"]

    def __str__(self) -> str:
        return self.original_name


class EventAction(models.TextChoices):
    CREATED = "created", _("创建")
    UPDATED = "updated", _("修改")
    ASSIGNED = "assigned", _("派单")
    REASSIGNED = "reassigned", _("改派")
    ACCEPTED = "accepted", _("接单响应")
    STARTED = "started", _("开始处理")
    PENDED = "pended", pgettext_lazy("action", "挂起")
    RESUMED = "resumed", _("恢复处理")
    RESOLVED = "resolved", _("解决")
    CLOSED = "closed", _("关闭")
    REOPENED = "reopened", _("重新打开")
    CANCELLED = "cancelled", _("取消")
    REGRADED = "regraded", _("调整级别")
    COMMENTED = "commented", _("评论")
    NOTED = "noted", _("内部备注")
    ATTACHED = "attached", _("上传附件")
    LINKED = "linked", _("关联")


class TicketEvent(models.Model):
    """Append-only history (操作记录): who did what, when, old → new. Never updated."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(_("时间"), default=timezone.now)
    action = models.CharField(_("操作"), max_length=20, choices=EventAction.choices)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    changes = models.JSONField(_("变更"), default=dict, blank=True)
    note = models.TextField(_("说明"), blank=True)

    class Meta:
        verbose_name = _("工单历史")
        verbose_name_plural = _("工单历史")
        ordering = ["ticket", "at", "id"]
        indexes = [models.Index(fields=["ticket", "id"], name="event_ticket_id")]

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.action} @ {self.at:%Y-%m-%d %H:%M}"
