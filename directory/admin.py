from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from directory.models import BusinessSystem, Contract, User, Vendor, VendorContact


class VendorContactInline(admin.TabularInline):
    model = VendorContact
    extra = 0


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "is_active", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["code", "name", "contacts__name"]
    inlines = [VendorContactInline]


@admin.register(VendorContact)
class VendorContactAdmin(admin.ModelAdmin):
    list_display = ["name", "vendor", "role", "phone", "email", "is_primary"]
    list_filter = ["vendor", "is_primary"]
    search_fields = ["name", "phone", "email", "vendor__name"]
    list_select_related = ["vendor"]


@admin.register(BusinessSystem)
class BusinessSystemAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "tier", "vendor", "is_active"]
    list_filter = ["tier", "vendor", "is_active"]
    search_fields = ["code", "name"]
    list_select_related = ["vendor"]


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ["number", "title", "vendor", "start_date", "end_date"]
    list_filter = ["vendor"]
    search_fields = ["number", "title", "vendor__name"]
    date_hierarchy = "start_date"
    filter_horizontal = ["systems"]
    list_select_related = ["vendor"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "full_name", "vendor", "department", "is_active", "is_staff"]
    list_filter = ["groups", "vendor", "is_active", "is_staff"]
    search_fields = ["username", "full_name", "email", "phone", "department"]
    list_select_related = ["vendor"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("运维服务台"), {"fields": ("full_name", "phone", "department", "vendor")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("运维服务台"), {"fields": ("full_name", "vendor")}),
    )
