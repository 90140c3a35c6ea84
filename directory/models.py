"""The directory: vendor companies (服务商), their contracts, business systems and users."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from opsdesk.models import TimeStampedModel

# What ``display_name`` reads: list rows and exports select these columns instead of users.
NAME_FIELDS = ("username", "full_name", "first_name", "last_name")


def display_name(username: str, full_name: str, first_name: str, last_name: str) -> str:
    """How a user is named everywhere: full name, else first and last name, else the login."""
    return full_name or f"{first_name} {last_name}".strip() or username


class VendorQuerySet(models.QuerySet):
    def active(self) -> VendorQuerySet:
        return self.filter(is_active=True)


class Vendor(TimeStampedModel):
    """A vendor company (服务商) contracted for the O&M of some business systems."""

    code = models.SlugField(_("编码"), max_length=50, unique=True)
    name = models.CharField(_("名称"), max_length=200)
    is_active = models.BooleanField(_("启用"), default=True)
    notes = models.TextField(_("备注"), blank=True)

    objects = VendorQuerySet.as_manager()

    class Meta:
        verbose_name = _("服务商")
        verbose_name_plural = _("服务商")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class VendorContact(TimeStampedModel):
    """A named contact person at a vendor (not necessarily a portal user)."""

    vendor = models.ForeignKey(
        Vendor, verbose_name=_("服务商"), on_delete=models.CASCADE, related_name="contacts"
    )
    name = models.CharField(_("姓名"), max_length=100)
    role = models.CharField(_("职务"), max_length=100, blank=True)
    phone = models.CharField(_("电话"), max_length=50, blank=True)
    email = models.EmailField(_("电子邮箱"), blank=True)
    is_primary = models.BooleanField(_("主要联系人"), default=False)

    class Meta:
        verbose_name = _("服务商联系人")
        verbose_name_plural = _("服务商联系人")
        ordering = ["vendor", "-is_primary", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.vendor})"


class SystemTier(models.TextChoices):
    MAIN = "main", _("主要业务系统")
    AUXILIARY = "auxiliary", _("辅助系统")
    INFRASTRUCTURE = "infrastructure", _("基础设施")


class BusinessSystemQuerySet(models.QuerySet):
    def active(self) -> BusinessSystemQuerySet:
        return self.filter(is_active=True)


class BusinessSystem(TimeStampedModel):
    """A business system (业务系统) under O&M; ``code`` is the stable slug used by the API."""

    code = models.SlugField(_("编码"), max_length=50, unique=True)
    name = models.CharField(_("名称"), max_length=200)
    tier = models.CharField(_("级别"), max_length=20, choices=SystemTier.choices)
    vendor = models.ForeignKey(
        Vendor,
        verbose_name=_("责任服务商"),
        on_delete=models.PROTECT,
        related_name="systems",
        null=True,
        blank=True,
    )
    description = models.TextField(_("说明"), blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    objects = BusinessSystemQuerySet.as_manager()

    class Meta:
        verbose_name = _("业务系统")
        verbose_name_plural = _("业务系统")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class ContractQuerySet(models.QuerySet):
    def in_force(self, on=None) -> ContractQuerySet:
        day = on or timezone.localdate()
        return self.filter(start_date__lte=day, end_date__gte=day)


class Contract(TimeStampedModel):
    """An O&M contract (运维合同) between the centre and a vendor for some systems."""

    vendor = models.ForeignKey(
        Vendor, verbose_name=_("服务商"), on_delete=models.PROTECT, related_name="contracts"
    )
    number = models.CharField(_("合同编号"), max_length=100, unique=True)
    title = models.CharField(_("合同名称"), max_length=200)
    systems = models.ManyToManyField(
        BusinessSystem, verbose_name=_("业务系统"), related_name="contracts", blank=True
    )
    start_date = models.DateField(_("服务期开始"))
    end_date = models.DateField(_("服务期结束"))

    objects = ContractQuerySet.as_manager()

    class Meta:
        verbose_name = _("运维合同")
        verbose_name_plural = _("运维合同")
        ordering = ["-start_date", "number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")),
                name="contract_period_not_reversed",
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class User(AbstractUser):
    """A portal user; vendor staff belong to exactly one vendor. Roles are groups (see roles.py)."""

    full_name = models.CharField(_("姓名"), max_length=100, blank=True)
    phone = models.CharField(_("电话"), max_length=50, blank=True)
    department = models.CharField(_("部门"), max_length=100, blank=True)
    vendor = models.ForeignKey(
        Vendor,
        verbose_name=_("所属服务商"),
        on_delete=models.PROTECT,
        related_name="staff",
        null=True,
        blank=True,
    )

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def get_full_name(self) -> str:
        return display_name(self.username, self.full_name, self.first_name, self.last_name)

    @property
    def display_name(self) -> str:
        return self.get_full_name()

    def __str__(self) -> str:
        return self.display_name
