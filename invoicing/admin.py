"""Admin for tenants and invoices. Issued invoices cannot be edited or deleted here."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import FileResponse, HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from integrations.ports import PermanentError
from invoicing.admin_paging import EstimatedCountPaginator
from invoicing.models import EmailDelivery, Invoice, InvoiceEvent, OrderAttention, PaymentCapture, Tenant
from invoicing.money import round_money
from invoicing.services import event_record, invoice_email_resend
from jobs.services import invoice_resume_failed_steps, job_orders_failed_after_issue

# Re-running the failed steps of an issued invoice is for Administrators, not Operators: it
# starts work on an invoice again after someone fixed the cause (a bug, a full disk), which
# is theirs to judge. Administrators hold the change permissions of the console, Operators
# only view ones and their three actions (jobs.roles).
RERUN_STEPS_PERMISSION = "jobs.change_joborder"


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
                    "logo", "logo_preview", "payment_terms",
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
        return (
            ("code", "automatic_schedule", "logo_preview") if obj else ("automatic_schedule", "logo_preview")
        )

    @admin.display(description="logo preview")
    def logo_preview(self, obj: Tenant) -> str:
        if not obj or not obj.logo:
            return "no logo: invoices are printed without one"
        url = reverse("admin:invoicing_tenant_logo", args=[obj.pk])
        return format_html('<img src="{}" alt="logo" style="max-height:80px;max-width:320px">', url)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:tenant_id>/logo/",
                self.admin_site.admin_view(self.logo_view),
                name="invoicing_tenant_logo",
            ),
            path(
                "<int:tenant_id>/run-automatic/",
                self.admin_site.admin_view(require_POST(self.run_automatic_view)),
                name="invoicing_tenant_run_automatic",
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
        from jobs.automatic import InvoiceSettingsError, automatic_run_scheduled

        if not request.user.has_perm("jobs.run_automatic_job"):
            raise PermissionDenied
        tenant = get_object_or_404(Tenant, pk=tenant_id)
        actor = f"admin:{request.user.get_username()}"
        event_record(
            tenant_id=tenant.pk, type="automatic_run_requested", actor=actor, message="Run now requested"
        )
        try:
            job = automatic_run_scheduled(tenant_code=tenant.code, requested_by=actor)
        except InvoiceSettingsError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("admin:invoicing_tenant_change", args=[tenant.pk]))
        if job is None:
            messages.warning(
                request, "Not started: the previous AUTOMATIC job of this tenant is still in progress."
            )
            return HttpResponseRedirect(reverse("admin:invoicing_tenant_change", args=[tenant.pk]))
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


def money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return "-"
    return f"{round_money(amount, currency or 'EUR'):,} {currency}"


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeliveryInline(admin.TabularInline):
    model = EmailDelivery
    fields = ("kind", "status", "recipient", "attempts", "sent_at", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "email deliveries"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    """Issued invoices and their numbers are never edited or deleted here."""

    list_display = (
        "number", "tenant", "order_id", "customer_name", "issue_date", "net", "tax", "gross",
        "capture", "email", "pdf_link",
    )  # fmt: skip
    list_filter = ("status", "tenant", ("issue_date", admin.DateFieldListFilter))
    list_select_related = ("tenant",)
    search_fields = ("number",)
    search_help_text = "An exact invoice number, order id or customer email."
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # per-filter counts would count the whole table
    list_per_page = 50
    fields = (
        "number", "status", "tenant", "order_id", "customer_name", "customer_email", "order_date", "issue_date",
        "issued_at", "net", "tax", "gross", "capture", "pdf_checksum",
    )  # fmt: skip
    readonly_fields = fields
    inlines = [DeliveryInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Invoice]:
        capture = PaymentCapture.objects.filter(tenant=OuterRef("tenant"), order_id=OuterRef("order_id"))
        latest_delivery = EmailDelivery.objects.filter(invoice=OuterRef("pk")).order_by("-created_at")
        return (
            super()
            .get_queryset(request)
            .annotate(
                capture_status=Subquery(capture.values("status")[:1]),
                email_status=Subquery(latest_delivery.values("status")[:1]),
            )
        )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Invoice], search_term: str) -> Any:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(Q(number=term) | Q(order_id=term) | Q(customer_email=term)), False

    @admin.display(description="net", ordering="net_total")
    def net(self, obj: Invoice) -> str:
        return money(obj.net_total, obj.currency)

    @admin.display(description="tax", ordering="tax_total")
    def tax(self, obj: Invoice) -> str:
        return money(obj.tax_total, obj.currency)

    @admin.display(description="gross", ordering="gross_total")
    def gross(self, obj: Invoice) -> str:
        return money(obj.gross_total, obj.currency)

    @admin.display(description="PDF checksum (SHA-256)")
    def pdf_checksum(self, obj: Invoice) -> str:
        return obj.pdf_sha256 or "-"

    @admin.display(description="capture")
    def capture(self, obj: Invoice) -> str:
        status = getattr(obj, "capture_status", None)
        return {"NOT_REQUIRED": "not needed", None: "-"}.get(status, str(status).lower())

    @admin.display(description="email")
    def email(self, obj: Invoice) -> str:
        status = getattr(obj, "email_status", None)
        return str(status).lower() if status else "-"

    @admin.display(description="PDF")
    def pdf_link(self, obj: Invoice) -> str:
        if not obj.pdf:
            return "-"
        return format_html('<a href="{}">PDF</a>', reverse("admin:invoicing_invoice_pdf", args=[obj.pk]))

    # --- the PDF, and resending the email ------------------------------------------------------------
    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:invoice_id>/pdf/",
                # SAMEORIGIN: the invoice page shows the PDF in a frame (Django's default is DENY)
                self.admin_site.admin_view(xframe_options_sameorigin(self.pdf_view)),
                name="invoicing_invoice_pdf",
            ),
            path(
                "<int:invoice_id>/resend-email/",
                self.admin_site.admin_view(require_POST(self.resend_view)),
                name="invoicing_invoice_resend",
            ),
            path(
                "<int:invoice_id>/rerun-failed-steps/",
                self.admin_site.admin_view(require_POST(self.rerun_view)),
                name="invoicing_invoice_rerun",
            ),
            *super().get_urls(),
        ]

    def pdf_view(self, request: HttpRequest, invoice_id: int) -> FileResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        invoice = get_object_or_404(Invoice.objects.exclude(pdf=""), pk=invoice_id)
        return FileResponse(
            invoice.pdf.open("rb"),
            as_attachment=bool(request.GET.get("download")),
            filename=f"invoice-{invoice.number}.pdf",
            content_type="application/pdf",
        )

    def resend_view(self, request: HttpRequest, invoice_id: int) -> HttpResponseRedirect:
        if not request.user.has_perm("invoicing.resend_invoice_email"):
            raise PermissionDenied
        invoice = get_object_or_404(Invoice, pk=invoice_id)
        try:
            delivery = invoice_email_resend(invoice=invoice, actor=f"admin:{request.user.get_username()}")
        except PermanentError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, f"The invoice email is being sent again to {delivery.recipient} ({delivery.kind})."
            )
        return HttpResponseRedirect(reverse("admin:invoicing_invoice_change", args=[invoice.pk]))

    def rerun_view(self, request: HttpRequest, invoice_id: int) -> HttpResponseRedirect:
        if not request.user.has_perm(RERUN_STEPS_PERMISSION):
            raise PermissionDenied
        invoice = get_object_or_404(Invoice, pk=invoice_id)
        if invoice_resume_failed_steps(invoice=invoice, actor=f"admin:{request.user.get_username()}"):
            messages.success(
                request,
                f"The failed steps of invoice {invoice.number} are being run again. Reload this page to follow it.",
            )
        else:
            messages.info(request, f"Invoice {invoice.number} has no failed steps to re-run.")
        return HttpResponseRedirect(reverse("admin:invoicing_invoice_change", args=[invoice.pk]))

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        invoice = context.get("original")
        context["can_resend"] = bool(
            invoice and invoice.pdf and request.user.has_perm("invoicing.resend_invoice_email")
        )
        failed = (
            job_orders_failed_after_issue(invoice=invoice).first()
            if invoice and request.user.has_perm(RERUN_STEPS_PERMISSION)
            else None
        )
        context["can_rerun"] = failed is not None
        context["failed_step"] = failed.get_step_display() if failed else ""
        return super().render_change_form(request, context, *args, **kwargs)


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
    show_facets = admin.ShowFacets.NEVER  # per-filter counts would count the whole table


class AttentionStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("attention", "Needs attention"), ("later", "Retried in a later run")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[OrderAttention]) -> QuerySet[OrderAttention]:
        if self.value() == "attention":
            return queryset.filter(next_attempt_after__isnull=True)
        if self.value() == "later":
            return queryset.filter(next_attempt_after__isnull=False)
        return queryset


@admin.register(OrderAttention)
class OrderAttentionAdmin(ReadOnlyAdmin):
    """Orders that failed in an AUTOMATIC run and that the next runs leave alone (invoicing.attention)."""

    list_display = (
        "order_id",
        "tenant",
        "state",
        "kind",
        "reason",
        "attempts",
        "next_attempt_after",
        "last_job_order_link",
        "updated_at",
    )
    list_filter = (AttentionStateFilter, "kind", "tenant")
    list_select_related = ("tenant",)
    search_fields = ("=order_id",)
    search_help_text = "An exact order id."
    actions = ("retry_now",)
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description="state")
    def state(self, obj: OrderAttention) -> str:
        if obj.needs_attention:
            return "Needs attention: waits until the order changes or it is retried"
        return "Retried by the first AUTOMATIC run after the time shown"

    @admin.display(description="last job order")
    def last_job_order_link(self, obj: OrderAttention) -> str:
        if obj.last_job_order_id is None:
            return "-"
        url = reverse("admin:jobs_joborder_change", args=[obj.last_job_order_id])
        return format_html('<a href="{}">{}</a>', url, obj.last_job_order_id)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("jobs.retry_failed_orders")

    @admin.action(description="Retry now (a new job with the selected orders)", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OrderAttention]) -> None:
        from invoicing.attention import order_attention_retry

        actor = f"admin:{request.user.get_username()}"
        for job in order_attention_retry(rows=list(queryset), actor=actor):
            url = reverse("admin:jobs_invoicejob_change", args=[job.pk])
            messages.success(
                request,
                format_html(
                    '{} order(s) are being retried as job <a href="{}">{}</a>.',
                    job.total_count,
                    url,
                    str(job.pk)[:8],
                ),
            )


# The console is for operations staff: name it so, and keep out what they must not touch.
admin.site.site_header = "Invoice Service console"
admin.site.site_title = "Invoice Service console"
admin.site.index_title = "Jobs, invoices and tenants"


def _hide_oauth_internals() -> None:
    """API clients (jobs.ApiClient) are the way in; raw OAuth applications and grant records
    would only let someone create a client without a tenant, or confuse."""
    from oauth2_provider.models import (
        get_application_model,
        get_grant_model,
        get_id_token_model,
        get_refresh_token_model,
    )

    for model in (
        get_application_model(),
        get_grant_model(),
        get_id_token_model(),
        get_refresh_token_model(),
    ):
        if admin.site.is_registered(model):
            admin.site.unregister(model)


_hide_oauth_internals()
