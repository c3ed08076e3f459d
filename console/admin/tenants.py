"""Tenants: seller details, backend connection, the AUTOMATIC schedule and "Run now"."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST
from django_celery_beat.models import PeriodicTask

from jobs.automatic import InvoiceSettingsError, automatic_run_now
from jobs.schedules import automatic_task_name
from tenants.models import Tenant


class TenantForm(forms.ModelForm):
    """The client secret is write-only: typed in, stored encrypted, never shown again."""

    emporix_client_secret = forms.CharField(
        label="Emporix client secret",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the stored secret. It is stored encrypted and never displayed.",
    )

    class Meta:
        model = Tenant
        fields = "__all__"  # noqa: DJ007 -- the admin's fieldsets choose what is shown

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.emporix_client_secret_encrypted:
            self.fields["emporix_client_secret"].widget.attrs["placeholder"] = "•••••••• (stored)"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            data.get("backend") == Tenant.Backend.EMPORIX
            and not data.get("emporix_client_secret")
            and not self.instance.emporix_client_secret_encrypted
        ):
            self.add_error("emporix_client_secret", "Required for the Emporix backend.")
        return data

    def save(self, commit: bool = True) -> Tenant:
        tenant = super().save(commit=False)
        if self.cleaned_data.get("emporix_client_secret"):
            tenant.set_emporix_client_secret(self.cleaned_data["emporix_client_secret"])
        if commit:
            tenant.save()
        return tenant


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    form = TenantForm
    list_display = ("code", "name", "backend", "active", "legal_name", "vat_id", "created_at")
    list_filter = ("active", "backend")
    search_fields = ("code", "name", "legal_name")
    fieldsets = (
        (None, {"fields": ("code", "name", "active", "backend")}),
        (
            "Seller details on invoices",
            {
                "fields": (
                    "legal_name", ("street", "street_number"), ("zip_code", "city", "country"),
                    ("vat_id", "tax_number"), ("iban", "bic"), "email_sender", ("phone", "website"),
                    "logo", "logo_preview",
                )
            },
        ),
        ("Payment and VAT", {"fields": ("payment_terms", "payment_days", "vat_treatments")}),
        # Validation against the EN 16931 (and XRechnung) rules before capture and at issue
        ("E-invoices", {"fields": ("einvoice_validation",)}),
        ("Defaults", {"fields": ("default_language", "default_currency", "time_zone", "prices_include_tax")}),
        ("Automatic jobs", {"fields": ("delivery_date_source", "automatic_schedule")}),
        (
            "Emporix connection (backend 'emporix')",
            {
                "fields": (
                    "emporix_base_url", "emporix_client_id", "emporix_client_secret", "emporix_site_code",
                    "emporix_number_placeholders",
                )
            },
        ),
    )  # fmt: skip

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None) -> tuple[str, ...]:
        return (
            ("code", "automatic_schedule", "logo_preview") if obj else ("automatic_schedule", "logo_preview")
        )

    @admin.display(description="logo preview")
    def logo_preview(self, obj: Tenant) -> str:
        if not obj or not obj.logo:
            return "no logo: invoices are printed without one"
        url = reverse("admin:tenants_tenant_logo", args=[obj.pk])
        return format_html('<img src="{}" alt="logo" style="max-height:80px;max-width:320px">', url)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:tenant_id>/logo/",
                self.admin_site.admin_view(self.logo_view),
                name="tenants_tenant_logo",
            ),
            path(
                "<int:tenant_id>/run-automatic/",
                self.admin_site.admin_view(require_POST(self.run_automatic_view)),
                name="tenants_tenant_run_automatic",
            ),
            *super().get_urls(),
        ]

    def logo_view(self, request: HttpRequest, tenant_id: int) -> FileResponse:
        # served to staff here: media is not served publicly, because invoice PDFs live there too
        if not self.has_view_permission(request):
            raise PermissionDenied
        tenant = get_object_or_404(Tenant.objects.exclude(logo=""), pk=tenant_id)
        return FileResponse(tenant.logo.open("rb"))

    def run_automatic_view(self, request: HttpRequest, tenant_id: int) -> HttpResponseRedirect:
        if not request.user.has_perm("jobs.run_automatic_job"):
            raise PermissionDenied
        tenant = get_object_or_404(Tenant, pk=tenant_id)
        actor = f"admin:{request.user.get_username()}"
        try:
            job = automatic_run_now(tenant=tenant, actor=actor)
        except InvoiceSettingsError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("admin:tenants_tenant_change", args=[tenant.pk]))
        if job is None:
            messages.warning(
                request, "Not started: the previous AUTOMATIC job of this tenant is still in progress."
            )
            return HttpResponseRedirect(reverse("admin:tenants_tenant_change", args=[tenant.pk]))
        messages.success(request, f"AUTOMATIC job {job.pk} started: its orders appear as they are found.")
        return HttpResponseRedirect(reverse("admin:jobs_invoicejob_change", args=[job.pk]))

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        context["can_run_automatic"] = bool(context.get("original")) and request.user.has_perm(
            "jobs.run_automatic_job"
        )
        return super().render_change_form(request, context, *args, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # tenants own invoices, which are never deleted; deactivate one instead

    @admin.display(description="schedule")
    def automatic_schedule(self, obj: Tenant) -> str:
        task = (
            PeriodicTask.objects.filter(name=automatic_task_name(obj.code)).select_related("crontab").first()
        )
        if task is None:
            return "-"
        state = "enabled" if task.enabled else "paused"
        url = reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])
        return format_html(
            '{} ({}) - <a href="{}">edit or pause the periodic task</a>. invoiceSettings: Local backends - Configurations.',
            task.crontab or task.interval,
            state,
            url,
        )
