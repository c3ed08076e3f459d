"""Invoices, their captures, email deliveries and audit events. Issued invoices cannot be edited or deleted here.

An invoice's page offers its PDF (PDF/A-3 with the Factur-X XML) and each e-invoice syntax for
download, with the outcome of each format's validation at issue (Invoice.einvoice_report).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from console.admin.common import RERUN_STEPS_PERMISSION, ReadOnlyAdmin
from console.paging import EstimatedCountPaginator
from core.errors import PermanentError
from core.money import money_text
from invoicing.deliveries import invoice_email_resend
from invoicing.downloads import (
    EINVOICE_CONTENT_TYPE,
    einvoice_filename,
    einvoice_outcomes,
    einvoice_valid,
    invoice_einvoice_xml,
)
from invoicing.einvoice import FORMATS
from invoicing.models import EmailDelivery, Invoice, InvoiceEvent, PaymentCapture
from jobs.services import invoice_resume_failed_steps, job_orders_failed_after_issue


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
        "capture", "email", "einvoice", "pdf_link",
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
        return money_text(obj.net_total, obj.currency, grouped=True)

    @admin.display(description="tax", ordering="tax_total")
    def tax(self, obj: Invoice) -> str:
        return money_text(obj.tax_total, obj.currency, grouped=True)

    @admin.display(description="gross", ordering="gross_total")
    def gross(self, obj: Invoice) -> str:
        return money_text(obj.gross_total, obj.currency, grouped=True)

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

    @admin.display(description="e-invoice valid", boolean=True)
    def einvoice(self, obj: Invoice) -> bool | None:
        # From the stored reports (no query); unknown: no format was validated.
        return einvoice_valid(obj)

    @admin.display(description="PDF")
    def pdf_link(self, obj: Invoice) -> str:
        if not obj.pdf:
            return "-"
        return format_html('<a href="{}">PDF</a>', reverse("admin:invoicing_invoice_pdf", args=[obj.pk]))

    # --- the PDF and the e-invoices, and resending the email ------------------------------------------
    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:invoice_id>/pdf/",
                # SAMEORIGIN: the invoice page shows the PDF in a frame (Django's default is DENY)
                self.admin_site.admin_view(xframe_options_sameorigin(self.pdf_view)),
                name="invoicing_invoice_pdf",
            ),
            path(
                "<int:invoice_id>/einvoice/<str:fmt>/",
                self.admin_site.admin_view(self.einvoice_view),
                name="invoicing_invoice_einvoice",
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

    def einvoice_view(self, request: HttpRequest, invoice_id: int, fmt: str) -> HttpResponse:
        """The issued invoice as an e-invoice in `fmt`: what GET …/einvoice?format= answers."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if fmt not in FORMATS:
            raise Http404("Unknown e-invoice format.")
        invoice = get_object_or_404(
            Invoice.objects.filter(status=Invoice.Status.ISSUED).exclude(pdf=""), pk=invoice_id
        )
        response = HttpResponse(invoice_einvoice_xml(invoice, fmt), content_type=EINVOICE_CONTENT_TYPE)
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=einvoice_filename(invoice, fmt)
        )
        return response

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
        context["einvoice_outcomes"] = (
            einvoice_outcomes(invoice)
            if isinstance(invoice, Invoice) and invoice.status == Invoice.Status.ISSUED and invoice.pdf
            else []
        )
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
