"""Admin for jobs, their per-order results and API clients."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from invoicing.admin import ReadOnlyAdmin
from jobs.models import ApiClient, InvoiceJob, JobOrder


class JobOrderInline(admin.TabularInline):
    model = JobOrder
    fields = ("order_id", "status", "step", "message", "invoice", "updated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(InvoiceJob)
class InvoiceJobAdmin(ReadOnlyAdmin):
    """Jobs are records of what happened: viewed here, never edited or deleted."""

    list_display = (
        "id",
        "tenant",
        "job_type",
        "status",
        "created_at",
        "success_count",
        "failure_count",
        "total_count",
    )
    list_filter = ("status", "job_type", "tenant", "created_at")
    search_fields = ("=id", "orders__order_id", "orders__invoice__number")
    list_select_related = ("tenant",)
    readonly_fields = ("id", "tenant", "job_type", "status", "total_count", "success_count", "failure_count",
                       "requested_by", "created_at", "finished_at")  # fmt: skip
    inlines = [JobOrderInline]
    show_full_result_count = False


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ("client_id", "tenant", "scopes", "created_at", "revoked_at")
    list_filter = ("tenant",)
    readonly_fields = ("application", "tenant", "created_at", "revoked_at")
    list_select_related = ("application", "tenant")

    @admin.display(description="client id")
    def client_id(self, obj: ApiClient) -> str:
        return str(obj.application.client_id)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created with `manage.py create_api_client` (the secret is shown once)
