"""Admin for tenants and invoices. Issued invoices cannot be edited or deleted here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from invoicing.models import EmailDelivery, Invoice, InvoiceEvent, PaymentCapture, Tenant


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
                    "logo", "payment_terms",
                )
            },
        ),
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
        return ("code", "automatic_schedule") if obj else ("automatic_schedule",)

    @admin.display(description="schedule")
    def automatic_schedule(self, obj: Tenant) -> str:
        from django.urls import reverse
        from django_celery_beat.models import PeriodicTask

        from jobs.schedules import automatic_task_name

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


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "tenant",
        "order_id",
        "status",
        "customer_name",
        "gross_total",
        "currency",
        "issue_date",
        "pdf_link",
    )
    list_filter = ("status", "tenant", "issue_date")
    search_fields = ("number", "order_id", "customer_name", "customer_email")
    list_select_related = ("tenant",)
    show_full_result_count = False
    exclude = ("document",)

    @admin.display(description="PDF")
    def pdf_link(self, obj: Invoice) -> str:
        return format_html('<a href="{}">PDF</a>', obj.pdf.url) if obj.pdf else "-"


@admin.register(PaymentCapture)
class PaymentCaptureAdmin(ReadOnlyAdmin):
    list_display = (
        "order_id",
        "tenant",
        "status",
        "amount",
        "currency",
        "transaction_id",
        "attempt",
        "updated_at",
    )
    list_filter = ("status", "tenant")
    search_fields = ("order_id", "transaction_id", "capture_id")


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("invoice", "kind", "status", "recipient", "attempts", "sent_at", "error")
    list_filter = ("status", "kind")
    search_fields = ("recipient", "invoice__number")
    list_select_related = ("invoice",)


@admin.register(InvoiceEvent)
class InvoiceEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "tenant", "type", "order_id", "invoice", "actor", "message")
    list_filter = ("type", "tenant")
    search_fields = ("order_id", "invoice__number", "message")
    list_select_related = ("tenant", "invoice")
    show_full_result_count = False
