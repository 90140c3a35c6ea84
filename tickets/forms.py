"""HTML forms of the ticket pages. They validate input only; every write is a service call.

Field names match the keyword arguments of ``tickets.services`` so that a ``DomainError``'s
``field`` lands on the right form field (see ``tickets.views.common.form_error``).
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.db.models import Count, FilteredRelation, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from directory.models import BusinessSystem, User, Vendor
from directory.roles import VENDOR_ROLES
from tickets.models import LINK_CHOICES, Category, Channel, Grade, Kind, ResolutionCode

# "Most frequent first" looks at this many days of tickets.
FREQUENCY_WINDOW_DAYS = 90
# Clients' clocks run slightly ahead; the service allows the same minute of slack.
FUTURE_SLACK = timedelta(minutes=1)
# A bulk action acts on at most one list page.
BULK_MAX = 100


def systems_by_frequency(*, now) -> QuerySet[BusinessSystem]:
    """Active systems, the most ticketed in the last 90 days first: one aggregate query.

    The date condition sits in the join (``FilteredRelation``) rather than in ``Count(filter=)``
    so PostgreSQL only reads the window's tickets via the reported_at index, not all of them.
    """
    since = now - timedelta(days=FREQUENCY_WINDOW_DAYS)
    return (
        BusinessSystem.objects.active()
        .select_related("vendor")
        .annotate(recent=FilteredRelation("tickets", condition=Q(tickets__reported_at__gte=since)))
        .annotate(recent_count=Count("recent"))
        .order_by("-recent_count", "name")
    )


def categories_by_frequency(*, now) -> QuerySet[Category]:
    """Active categories, the most used in the last 90 days first: one aggregate query."""
    since = now - timedelta(days=FREQUENCY_WINDOW_DAYS)
    return (
        Category.objects.filter(is_active=True)
        .annotate(recent=FilteredRelation("tickets", condition=Q(tickets__reported_at__gte=since)))
        .annotate(recent_count=Count("recent"))
        .order_by("-recent_count", "name")
    )


def vendor_engineers() -> QuerySet[User]:
    return (
        User.objects.filter(
            is_active=True, vendor__isnull=False, groups__name__in=[r.value for r in VENDOR_ROLES]
        )
        .select_related("vendor")
        .distinct()
        .order_by("vendor__code", "full_name", "username")
    )


class DataVendorSelect(forms.Select):
    """A select whose options carry ``data-vendor``: the system's vendor or the user's vendor.

    ``tickets/ticket-forms.js`` reads it to pre-select the responsible vendor and to narrow the
    engineer list; without JavaScript the form still works.
    """

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        instance = getattr(value, "instance", None)
        vendor_id = getattr(instance, "vendor_id", None)
        if vendor_id:
            option["attrs"]["data-vendor"] = str(vendor_id)
        return option


class SystemChoiceField(forms.ModelChoiceField):
    widget = DataVendorSelect


class EngineerChoiceField(forms.ModelChoiceField):
    widget = DataVendorSelect

    def label_from_instance(self, obj: User) -> str:
        return f"{obj.display_name}（{obj.vendor.name}）"


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


def _not_in_future(value):
    if value and value > timezone.now() + FUTURE_SLACK:
        raise forms.ValidationError(_("报障时间不能晚于当前时间。"), code="future")
    return value


def _clean_grade(form: forms.Form) -> None:
    """Incidents need a grade (故障级别); other kinds have none."""
    data = form.cleaned_data
    if data.get("kind") == Kind.INCIDENT:
        if not data.get("grade"):
            form.add_error("grade", _("故障工单必须选择故障级别。"))
    else:
        data["grade"] = None


class _TicketFields(forms.Form):
    """The descriptive fields shared by the create forms."""

    kind = forms.ChoiceField(label=_("类型"), choices=Kind.choices, initial=Kind.INCIDENT)
    grade = forms.TypedChoiceField(
        label=_("故障级别"),
        choices=[("", _("请选择级别")), *Grade.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    system = SystemChoiceField(
        label=_("业务系统"),
        queryset=BusinessSystem.objects.none(),
        required=False,
        empty_label=_("（未指定）"),
    )
    category = forms.ModelChoiceField(
        label=_("分类"),
        queryset=Category.objects.none(),
        required=False,
        empty_label=_("（未分类）"),
    )
    title = forms.CharField(label=_("标题"), max_length=200)
    description = forms.CharField(
        label=_("描述"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Ctrl+Enter 提交"),
    )

    def __init__(self, *args, now=None, **kwargs):
        super().__init__(*args, **kwargs)
        now = now or timezone.now()
        self.fields["system"].queryset = systems_by_frequency(now=now)
        self.fields["category"].queryset = categories_by_frequency(now=now)

    def clean(self):
        cleaned = super().clean()
        _clean_grade(self)
        return cleaned


class LogCallForm(_TicketFields):
    """登记来电: the desk logs a phone call and dispatches it in one step, keyboard only."""

    requester_name = forms.CharField(label=_("来电人"), max_length=100)
    requester_phone = forms.CharField(label=_("联系电话"), max_length=50, required=False)
    requester_department = forms.CharField(label=_("部门/单位"), max_length=100, required=False)
    reported_at = forms.DateTimeField(
        label=_("来电时间"), widget=LocalDateTimeInput, validators=[_not_in_future]
    )
    vendor = forms.ModelChoiceField(
        label=_("派单给服务商"),
        queryset=Vendor.objects.active(),
        required=False,
        empty_label=_("（暂不派单）"),
        help_text=_("默认为业务系统的责任服务商"),
    )
    engineer = EngineerChoiceField(
        label=_("处理工程师"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("（由服务商安排）"),
    )

    field_order = [
        "requester_name",
        "requester_phone",
        "requester_department",
        "system",
        "category",
        "kind",
        "grade",
        "title",
        "description",
        "reported_at",
        "vendor",
        "engineer",
    ]

    def __init__(self, *args, now=None, **kwargs):
        super().__init__(*args, now=now, **kwargs)
        self.fields["engineer"].queryset = vendor_engineers()
        self.fields["requester_name"].widget.attrs.update(autofocus=True, accesskey="n")
        self.fields["system"].widget.attrs["accesskey"] = "y"
        self.fields["title"].widget.attrs["accesskey"] = "t"
        self.fields["vendor"].widget.attrs["data-role"] = "vendor"
        self.fields["system"].widget.attrs["data-role"] = "system"
        self.fields["engineer"].widget.attrs["data-role"] = "engineer"
        local_now = timezone.localtime(now or timezone.now())
        self.fields["reported_at"].widget.attrs["max"] = local_now.strftime("%Y-%m-%dT%H:%M")
        if not self.is_bound:
            self.initial.setdefault("reported_at", local_now.replace(second=0, microsecond=0))
            self._default_vendor_from_system()

    def _default_vendor_from_system(self) -> None:
        """Server-side default for ``?system=<id>``: dispatch to the system's vendor."""
        system_id = str(self.initial.get("system") or "")
        if system_id.isdigit():
            system = BusinessSystem.objects.filter(pk=system_id).first()
            if system is not None:
                self.initial.setdefault("vendor", system.vendor_id)

    def clean(self):
        cleaned = super().clean()
        engineer, vendor = cleaned.get("engineer"), cleaned.get("vendor")
        if engineer is not None and vendor is None:
            self.add_error("vendor", _("指定工程师时必须选择服务商。"))
        elif engineer is not None and engineer.vendor_id != vendor.pk:
            self.add_error("engineer", _("工程师不属于该服务商。"))
        return cleaned


class TicketCreateForm(_TicketFields):
    """提交请求: a requester (or the desk, for e-mail and walk-ins) files a ticket on the web."""

    channel = forms.ChoiceField(
        label=_("来源渠道"),
        choices=[(c, label) for c, label in Channel.choices if c not in ("monitoring", "api")],
        initial=Channel.WEB,
    )
    requester_name = forms.CharField(label=_("报障人"), max_length=100, required=False)
    requester_phone = forms.CharField(label=_("联系电话"), max_length=50, required=False)
    requester_department = forms.CharField(label=_("部门/单位"), max_length=100, required=False)

    field_order = ["kind", "grade", "system", "category", "title", "description"]

    def __init__(self, *args, desk: bool = False, now=None, **kwargs):
        super().__init__(*args, now=now, **kwargs)
        if not desk:
            # Requesters file for themselves on the web: the service fills in who they are.
            for name in ("channel", "requester_name", "requester_phone", "requester_department"):
                del self.fields[name]
            self.fields["grade"].help_text = _("服务台会复核故障级别")
        self.fields["kind"].widget.attrs["autofocus"] = True


class TicketEditForm(forms.Form):
    """The desk corrects a ticket's descriptive fields; ``expected_version`` guards the save."""

    title = forms.CharField(label=_("标题"), max_length=200)
    description = forms.CharField(
        label=_("描述"), required=False, widget=forms.Textarea(attrs={"rows": 6})
    )
    system = forms.ModelChoiceField(
        label=_("业务系统"), queryset=BusinessSystem.objects.none(), required=False
    )
    category = forms.ModelChoiceField(
        label=_("分类"), queryset=Category.objects.none(), required=False
    )
    requester_name = forms.CharField(label=_("报障人"), max_length=100, required=False)
    requester_department = forms.CharField(label=_("报障部门"), max_length=100, required=False)
    requester_phone = forms.CharField(label=_("联系电话"), max_length=50, required=False)
    requester_email = forms.EmailField(label=_("联系邮箱"), required=False)
    expected_version = forms.IntegerField(widget=forms.HiddenInput)

    EDITABLE = (
        "title",
        "description",
        "system",
        "category",
        "requester_name",
        "requester_department",
        "requester_phone",
        "requester_email",
    )

    def __init__(self, *args, ticket, **kwargs):
        initial = {name: getattr(ticket, name) for name in self.EDITABLE}
        initial["expected_version"] = ticket.version
        super().__init__(*args, initial=initial, **kwargs)
        # An inactive system stays selectable on the tickets that already have it.
        systems = BusinessSystem.objects.filter(Q(is_active=True) | Q(pk=ticket.system_id))
        categories = Category.objects.filter(Q(is_active=True) | Q(pk=ticket.category_id))
        self.fields["system"].queryset = systems.order_by("name")
        self.fields["category"].queryset = categories.order_by("name")
        self.fields["title"].widget.attrs["autofocus"] = True

    def changes(self) -> dict:
        """Only the fields the user changed: a blind overwrite would undo others' edits."""
        changed = set(self.changed_data)
        return {name: self.cleaned_data[name] for name in self.EDITABLE if name in changed}


# ---------------------------------------------------------------------------------------------
# One small form per transition on the ticket page


class ActionForm(forms.Form):
    """Every transition carries the version the user saw; a newer one means someone else won."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, ticket=None, **kwargs):
        if ticket is not None:
            kwargs.setdefault("initial", {})["expected_version"] = ticket.version
        super().__init__(*args, **kwargs)


class AssignForm(ActionForm):
    vendor = forms.ModelChoiceField(label=_("服务商"), queryset=Vendor.objects.none())
    engineer = EngineerChoiceField(
        label=_("工程师（可选）"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("（由服务商安排）"),
    )
    note = forms.CharField(label=_("派单说明"), max_length=500, required=False)

    def __init__(self, *args, ticket=None, **kwargs):
        super().__init__(*args, ticket=ticket, **kwargs)
        self.fields["vendor"].queryset = Vendor.objects.active()
        self.fields["vendor"].widget.attrs["data-role"] = "vendor"
        self.fields["engineer"].queryset = vendor_engineers()
        self.fields["engineer"].widget.attrs["data-role"] = "engineer"
        if ticket is not None and not self.is_bound:
            system_vendor = ticket.system.vendor_id if ticket.system else None
            self.initial.setdefault("vendor", ticket.vendor_id or system_vendor)


class ReasonForm(ActionForm):
    reason = forms.CharField(label=_("原因"), max_length=500)


class ResolveForm(ActionForm):
    resolution_code = forms.ChoiceField(
        label=_("解决方式"), choices=ResolutionCode.choices, initial=ResolutionCode.FIXED
    )
    resolution = forms.CharField(
        label=_("解决说明"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )


class RegradeForm(ActionForm):
    grade = forms.TypedChoiceField(label=_("新级别"), choices=Grade.choices, coerce=int)
    reason = forms.CharField(label=_("调整原因"), max_length=500)


class CommentForm(forms.Form):
    body = forms.CharField(
        label=_("评论"), widget=forms.Textarea(attrs={"rows": 3}), help_text=_("Ctrl+Enter 提交")
    )
    internal = forms.BooleanField(label=_("内部备注（报障人不可见）"), required=False)

    def __init__(self, *args, allow_internal: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not allow_internal:
            del self.fields["internal"]


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("上传附件"))
    internal = forms.BooleanField(label=_("仅内部可见"), required=False)

    def __init__(self, *args, allow_internal: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not allow_internal:
            del self.fields["internal"]


# ---------------------------------------------------------------------------------------------
# Bulk actions on the list


class BulkActionForm(forms.Form):
    DISPATCH = "dispatch"
    CLOSE = "close"

    action = forms.ChoiceField(
        label=_("批量操作"), choices=[(DISPATCH, _("派单给服务商")), (CLOSE, _("关闭"))]
    )
    vendor = forms.ModelChoiceField(
        label=_("服务商"),
        queryset=Vendor.objects.none(),
        required=False,
        empty_label=_("选择服务商"),
    )
    # "<id>:<version>" per checked row: each ticket is checked against the version listed.
    tickets = forms.MultipleChoiceField(label=_("工单"), choices=(), required=True)
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vendor"].queryset = Vendor.objects.active()
        self.fields["tickets"].valid_value = lambda value: True  # parsed in clean_tickets

    def clean_tickets(self) -> list[tuple[int, int | None]]:
        parsed = []
        for raw in self.cleaned_data["tickets"]:
            pk, _sep, version = raw.partition(":")
            if not pk.isdigit() or (version and not version.isdigit()):
                raise forms.ValidationError(_("工单选择无效。"))
            parsed.append((int(pk), int(version) if version else None))
        if len(parsed) > BULK_MAX:
            raise forms.ValidationError(_("一次最多处理 %(max)s 张工单。") % {"max": BULK_MAX})
        return parsed

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == self.DISPATCH and not cleaned.get("vendor"):
            self.add_error("vendor", _("派单必须选择服务商。"))
        return cleaned


class LinkForm(forms.Form):
    """Relate this ticket to another one, named by its number (what the desk has at hand)."""

    kind = forms.ChoiceField(label=_("关系"), choices=LINK_CHOICES)
    target_number = forms.CharField(label=_("对方工单号"), max_length=32)
    note = forms.CharField(label=_("说明"), max_length=500, required=False)
