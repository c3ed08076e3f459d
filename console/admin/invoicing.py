"""Invoices, their captures, email deliveries and audit events. Issued invoices cannot be edited or deleted here.

An invoice's page offers its PDF (PDF/A-3 with the Factur-X XML) and each e-invoice syntax for
download, with the outcome of each format's validation at issue (Invoice.einvoice_report).

It lists the invoice's credit notes with what is credited and what is left, and offers the two
corrections to those who may issue credit notes (invoicing.issue_credit_note, Administrators):
"Cancel the invoice" and "Create a partial credit note" (console.credit_forms). The invoice itself
never changes; a correction is a new document, a credit note.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from console.admin.common import RERUN_STEPS_PERMISSION, ReadOnlyAdmin
from console.admin.credit_notes import credit_note_label, credit_notes_of_invoice
from console.credit_forms import (
    ISSUE_CREDIT_NOTE_PERMISSION,
    CancelForm,
    PartialCreditForm,
    credit_room,
    refund_possible,
)
from console.paging import EstimatedCountPaginator
from core.errors import PermanentError
from core.money import money_text
from invoicing.credit_notes import Balance, invoice_balance
from invoicing.deliveries import invoice_email_resend
from invoicing.downloads import (
    EINVOICE_CONTENT_TYPE,
    einvoice_filename,
    einvoice_outcomes,
    einvoice_valid,
    invoice_einvoice_xml,
)
from invoicing.einvoice import FORMATS
from invoicing.models import CreditNote, EmailDelivery, Invoice, InvoiceEvent, PaymentCapture
from jobs.credit_notes import CreditRefused, credit_note_request
from jobs.services import invoice_resume_failed_steps, job_orders_failed_after_issue


def actor_of(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


class DeliveryInline(admin.TabularInline):
    model = EmailDelivery
    fk_name = "invoice"
    fields = ("what", "status", "recipient", "attempts", "sent_at", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "email deliveries (the invoice's and its credit notes')"

    def get_queryset(self, request: HttpRequest) -> QuerySet[EmailDelivery]:
        return super().get_queryset(request).select_related("credit_note")

    @admin.display(description="kind")
    def what(self, obj: EmailDelivery) -> str:
        if obj.credit_note is not None:
            return f"credit note {credit_note_label(obj.credit_note)}"
        return obj.kind

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CreditFilter(admin.SimpleListFilter):
    title = "credit notes"
    parameter_name = "credited"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("cancelled", "Cancelled"), ("partly", "Partly credited"), ("none", "Not credited")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> QuerySet[Invoice]:
        if self.value() == "cancelled":
            return queryset.filter(cancelled_at__isnull=False)
        if self.value() == "partly":
            return queryset.filter(cancelled_at__isnull=True, credited_gross__gt=0)
        if self.value() == "none":
            return queryset.filter(credited_gross=0)
        return queryset


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    """Issued invoices and their numbers are never edited or deleted here."""

    list_display = (
        "number", "tenant", "order_id", "customer_name", "issue_date", "net", "tax", "gross",
        "capture", "email", "einvoice", "pdf_link",
    )  # fmt: skip
    list_filter = ("status", CreditFilter, "tenant", ("issue_date", admin.DateFieldListFilter))
    list_select_related = ("tenant",)
    search_fields = ("number",)
    search_help_text = "An exact invoice number, order id or customer email."
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # per-filter counts would count the whole table
    list_per_page = 50
    fields = (
        "number", "status_label", "tenant", "order_id", "customer_name", "customer_email", "order_date",
        "issue_date", "issued_at", "net", "tax", "gross", "credited", "left_to_credit", "capture", "pdf_checksum",
    )  # fmt: skip
    readonly_fields = fields
    inlines = [DeliveryInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Invoice]:
        capture = PaymentCapture.objects.filter(tenant=OuterRef("tenant"), order_id=OuterRef("order_id"))
        # the invoice's own emails: a credit note's email has its own line on the credit note's page
        latest_delivery = EmailDelivery.objects.filter(invoice=OuterRef("pk"), credit_note=None).order_by(
            "-created_at"
        )
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

    @admin.display(description="status")
    def status_label(self, obj: Invoice) -> str:
        if obj.cancelled_at is not None:
            return "Cancelled"
        if obj.status == Invoice.Status.ISSUED and obj.credited_gross:
            # credited_gross counts the credit notes being issued too: the cancel is on its way
            if obj.gross_total is not None and obj.credited_gross >= obj.gross_total:
                return "Issued, being credited in full"
            return "Issued, partly credited"
        return str(obj.get_status_display())

    def _balance(self, obj: Invoice) -> Balance:
        cached = getattr(obj, "_console_balance", None)
        if cached is None:
            cached = invoice_balance(obj)
            obj._console_balance = cached  # type: ignore[attr-defined]
        return cached

    @admin.display(description="credited")
    def credited(self, obj: Invoice) -> str:
        if obj.status != Invoice.Status.ISSUED:
            return "-"
        balance = self._balance(obj)
        text = money_text(balance.credited, balance.currency, grouped=True)
        if balance.pending:
            text += f" issued, and {money_text(balance.pending, balance.currency, grouped=True)} being issued"
        return text

    @admin.display(description="left to credit")
    def left_to_credit(self, obj: Invoice) -> str:
        if obj.status != Invoice.Status.ISSUED:
            return "-"
        balance = self._balance(obj)
        return money_text(max(balance.remaining, Decimal(0)), balance.currency, grouped=True)

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
            # GET shows the form, POST requests the credit note (CSRF-checked by admin_view)
            path(
                "<int:invoice_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="invoicing_invoice_cancel",
            ),
            path(
                "<int:invoice_id>/credit/",
                self.admin_site.admin_view(self.partial_credit_view),
                name="invoicing_invoice_credit",
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

    # --- corrections: cancelling the invoice, a partial credit note ----------------------------------
    def _not_creditable(self, invoice: Invoice) -> str:
        """Why no credit note can be asked for now ("" when one can)."""
        if invoice.status != Invoice.Status.ISSUED:
            return f"The invoice of order {invoice.order_id} is not issued; there is nothing to credit."
        if invoice.cancelled_at is not None:
            return f"Invoice {invoice.number} is cancelled; there is nothing left to credit."
        balance = self._balance(invoice)
        if balance.remaining <= 0:
            return (
                f"Nothing is left to credit on invoice {invoice.number}: credit notes of "
                f"{money_text(balance.credited + balance.pending, balance.currency, grouped=True)} are issued "
                "or being issued."
            )
        return ""

    def cancel_view(self, request: HttpRequest, invoice_id: int) -> HttpResponse:
        return self._credit_view(request, invoice_id, cancel=True)

    def partial_credit_view(self, request: HttpRequest, invoice_id: int) -> HttpResponse:
        return self._credit_view(request, invoice_id, cancel=False)

    def _credit_view(self, request: HttpRequest, invoice_id: int, *, cancel: bool) -> HttpResponse:
        if not request.user.has_perm(ISSUE_CREDIT_NOTE_PERMISSION):
            raise PermissionDenied
        invoice = get_object_or_404(Invoice.objects.select_related("tenant"), pk=invoice_id)
        invoice_url = reverse("admin:invoicing_invoice_change", args=[invoice.pk])
        # A form sent twice (or sent again from the browser's history) is answered by the service
        # through its idempotency key, so only a plain visit is turned away here.
        blocked = self._not_creditable(invoice)
        if blocked and (request.method != "POST" or invoice.status != Invoice.Status.ISSUED):
            messages.error(request, blocked)
            return HttpResponseRedirect(invoice_url)
        capture = refund_possible(invoice)
        lines, rates = ([], []) if cancel else credit_room(invoice)
        data = request.POST if request.method == "POST" else None
        form: CancelForm | PartialCreditForm = (
            CancelForm(data, capture=capture)
            if cancel
            else PartialCreditForm(data, capture=capture, lines=lines, rates=rates)
        )
        if request.method == "POST" and form.is_valid():
            try:
                credit_note, created = credit_note_request(
                    tenant=invoice.tenant,
                    invoice_number=invoice.number or "",
                    reason=form.cleaned_data["reason"],
                    lines=form.cleaned_data.get("lines") or None,
                    amounts=form.cleaned_data.get("amounts") or None,
                    # Without a captured payment there is nothing the gateway could pay back; the
                    # API's default then applies (refund if possible: the service records none).
                    refund=bool(form.cleaned_data["refund"]) if capture is not None else True,
                    idempotency_key=form.idempotency_key,
                    actor=actor_of(request),
                )
            except CreditRefused as exc:
                if exc.http_status == 422:
                    form.add_error(
                        None,
                        "This form was already sent with other values and made a credit note. "
                        "Open the invoice again to make another one.",
                    )
                else:
                    form.add_error(None, exc.message)
            else:
                if created:
                    what = "Cancellation" if credit_note.kind == CreditNote.Kind.FULL else "Credit note"
                    messages.success(
                        request,
                        f"{what} of invoice {invoice.number} requested: "
                        f"{money_text(credit_note.gross_total, credit_note.currency, grouped=True)}. "
                        "It is being issued; reload this page to follow it.",
                    )
                else:
                    messages.info(
                        request, "This form was sent already; this is the credit note it requested."
                    )
                return HttpResponseRedirect(
                    reverse("admin:invoicing_creditnote_change", args=[credit_note.pk])
                )
        balance = self._balance(invoice)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": (
                f"Cancel invoice {invoice.number}"
                if cancel
                else f"Partial credit note for invoice {invoice.number}"
            ),
            "subtitle": None,
            "original": invoice,
            "invoice_url": invoice_url,
            "form": form,
            "errors": form.non_field_errors(),
            "capture": capture,
            "capture_text": (
                f"{money_text(capture.amount, capture.currency, grouped=True)} was captured"
                + (
                    f", {money_text(capture.refunded_amount, capture.currency, grouped=True)} of it refunded already."
                    if capture.refunded_amount
                    else "."
                )
                if capture is not None
                else ""
            ),
            "balance": balance,
            "invoiced": money_text(balance.invoiced, balance.currency, grouped=True),
            "remaining": money_text(max(balance.remaining, Decimal(0)), balance.currency, grouped=True),
            "already": money_text(balance.credited + balance.pending, balance.currency, grouped=True),
            "pending": money_text(balance.pending, balance.currency, grouped=True) if balance.pending else "",
            "credit_notes": credit_notes_of_invoice(invoice),
        }
        template = "credit_cancel.html" if cancel else "credit_partial.html"
        return TemplateResponse(request, f"admin/invoicing/invoice/{template}", context)

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        invoice = context.get("original")
        issued = invoice if isinstance(invoice, Invoice) and invoice.status == Invoice.Status.ISSUED else None
        context["credit_notes"] = credit_notes_of_invoice(issued) if issued else []
        context["credits_shown"] = issued is not None
        context["can_credit"] = bool(
            issued
            and request.user.has_perm(ISSUE_CREDIT_NOTE_PERMISSION)
            and not self._not_creditable(issued)
        )
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
