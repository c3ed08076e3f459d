"""Credit notes: the list and a read-only page per credit note. Nobody adds, edits or deletes one
here; they are requested from the invoice's page (console.admin.invoicing) or through the API.

The page shows the PDF inline, the reason, the amounts per VAT rate, the refund record, the
credit note's emails and its pipeline (jobs.credit_notes.credit_note_state). Administrators re-run
its failed steps when a step after its number failed (jobs.services.credit_note_resume_failed_steps).
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.http import content_disposition_header
from django.utils.timezone import localtime
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from console.admin.common import RERUN_STEPS_PERMISSION, ReadOnlyAdmin
from console.paging import EstimatedCountPaginator
from core.money import money_text
from invoicing.documents import from_json
from invoicing.downloads import EINVOICE_CONTENT_TYPE, einvoice_outcomes, invoice_einvoice_xml
from invoicing.einvoice import FORMATS
from invoicing.models import CreditNote, EmailDelivery, Invoice, Refund
from jobs.credit_notes import credit_note_state
from jobs.models import JobOrder
from jobs.pipeline import pipeline_of
from jobs.services import credit_note_resume_failed_steps, failed_after_issue

# the list's column (a refund is always of the credit note's gross, shown beside it)
REFUND_LABELS: dict[str, str] = {
    Refund.Status.PENDING: "pending",
    Refund.Status.UNKNOWN: "unknown (asking the gateway)",
    Refund.Status.REFUNDED: "refunded",
    Refund.Status.DECLINED: "declined",
    Refund.Status.NOT_REQUIRED: "none",
}
PIPELINE_LABELS = {"PENDING": "running", "SUCCESS": "done", "FAILURE": "failed"}
STATUS_LABELS: dict[str, str] = {
    CreditNote.Status.DRAFT: "Being issued",
    CreditNote.Status.ISSUED: "Issued",
    CreditNote.Status.FAILED: "Failed (not issued)",
}


def actor_of(request: HttpRequest) -> str:
    return f"admin:{request.user.get_username()}"


def credit_note_label(credit_note: CreditNote) -> str:
    """Its number, or what it is while it has none."""
    if credit_note.number:
        return credit_note.number
    return "not issued" if credit_note.status == CreditNote.Status.FAILED else "number follows"


def credit_note_link(credit_note: CreditNote) -> str:
    url = reverse("admin:invoicing_creditnote_change", args=[credit_note.pk])
    return format_html('<a href="{}" class="credit-note-link">{}</a>', url, credit_note_label(credit_note))


def credit_note_pdf_url(credit_note: CreditNote) -> str:
    return reverse("admin:invoicing_creditnote_pdf", args=[credit_note.pk])


def credit_note_filename(credit_note: CreditNote) -> str:
    return f"credit-note-{credit_note.number}.pdf"


def credit_note_status_label(credit_note: CreditNote) -> str:
    return str(STATUS_LABELS.get(credit_note.status, credit_note.get_status_display()))


def refund_label(credit_note: CreditNote) -> str:
    """The refund record's state, read through select_related (no query of its own)."""
    try:
        refund = credit_note.refund
    except ObjectDoesNotExist:
        return "-"
    return REFUND_LABELS.get(refund.status, refund.status.lower())


MAIN_FIELDS = (
    "credit_note", "status_label", "kind", "invoice_link", "order_id", "tenant", "reason", "issue_date",
    "issued_at", "requested_by", "created_at", "failure",
)  # fmt: skip


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdmin):
    """Issued credit notes are never edited or deleted; drafts and failed ones are records too."""

    list_display = (
        "credit_note", "invoice_link", "order_id", "kind", "status_label", "pipeline", "gross", "refund_column",
        "created",
    )  # fmt: skip
    list_filter = ("status", "kind", "tenant")
    list_select_related = ("invoice", "refund")
    search_fields = ("number",)  # shows the box; get_search_results does the exact lookups
    search_help_text = "An exact credit note number, invoice number or order id."
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # per-filter counts would count the whole table
    list_per_page = 50
    fieldsets = (
        (None, {"fields": MAIN_FIELDS}),
        ("Amounts", {"fields": ("net", "tax", "gross", "amounts_per_rate", "credited_lines")}),
        ("Refund", {"fields": ("refund_state", "refund_amount", "refund_id", "refund_message")}),
        ("Emails to the customer", {"fields": ("emails",)}),
        ("Pipeline", {"fields": ("pipeline_state", "pipeline_step", "pipeline_message", "pipeline_job")}),
        (None, {"fields": ("pdf_checksum",)}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if isinstance(obj, CreditNote) and obj.status == CreditNote.Status.FAILED:
            return self.fieldsets
        # "why it failed" only on a credit note that failed
        main = tuple(name for name in MAIN_FIELDS if name != "failure")
        return ((None, {"fields": main}), *self.fieldsets[1:])

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [str(name) for _title, options in self.fieldsets for name in options["fields"]]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CreditNote]:
        pipeline = JobOrder.objects.filter(credit_note=OuterRef("pk")).order_by("-pk")
        return super().get_queryset(request).annotate(pipeline_status=Subquery(pipeline.values("status")[:1]))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[CreditNote], search_term: str
    ) -> Any:
        term = search_term.strip()
        if not term:
            return queryset, False
        # the invoices first, through their indexes: an OR across the join would scan every row
        invoice_ids = list(
            Invoice.objects.filter(Q(number=term) | Q(order_id=term)).values_list("pk", flat=True)
        )
        condition = Q(number=term) | Q(invoice_id__in=invoice_ids)
        with contextlib.suppress(ValueError):  # a credit note's id, as the API answers it
            condition |= Q(pk=uuid.UUID(term))
        return queryset.filter(condition), False

    # --- columns and fields ---------------------------------------------------------------------------
    @admin.display(description="credit note", ordering="number")
    def credit_note(self, obj: CreditNote) -> str:
        return credit_note_label(obj)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: CreditNote) -> str:
        return date_format(localtime(obj.created_at), "Y-m-d H:i")  # short: the list is narrow

    @admin.display(description="status", ordering="status")
    def status_label(self, obj: CreditNote) -> str:
        return credit_note_status_label(obj)

    @admin.display(description="invoice")
    def invoice_link(self, obj: CreditNote) -> str:
        url = reverse("admin:invoicing_invoice_change", args=[obj.invoice_id])
        return format_html('<a href="{}">{}</a>', url, obj.invoice.number or "-")

    @admin.display(description="order")
    def order_id(self, obj: CreditNote) -> str:
        return obj.invoice.order_id

    @admin.display(description="pipeline")
    def pipeline(self, obj: CreditNote) -> str:
        status = getattr(obj, "pipeline_status", None)
        return PIPELINE_LABELS.get(status, "-") if status else "-"

    @admin.display(description="refund")
    def refund_column(self, obj: CreditNote) -> str:  # not "refund": that is the Refund row's accessor
        return refund_label(obj)

    @admin.display(description="net")
    def net(self, obj: CreditNote) -> str:
        return money_text(obj.net_total, obj.currency, grouped=True)

    @admin.display(description="tax")
    def tax(self, obj: CreditNote) -> str:
        return money_text(obj.tax_total, obj.currency, grouped=True)

    @admin.display(description="gross", ordering="gross_total")
    def gross(self, obj: CreditNote) -> str:
        return money_text(obj.gross_total, obj.currency, grouped=True)

    @admin.display(description="why it failed")
    def failure(self, obj: CreditNote) -> str:
        return obj.message or "-"

    @admin.display(description="amounts per VAT rate")
    def amounts_per_rate(self, obj: CreditNote) -> str:
        document = from_json(obj.document)
        if not document.tax_breakdown:
            return "-"
        rows = format_html_join(
            "",
            '<tr><td>{} % ({})</td><td class="amount">{}</td><td class="amount">{}</td>'
            '<td class="amount">{}</td></tr>',
            (
                (
                    f"{line.rate.normalize():f}",
                    line.category,
                    money_text(line.net, obj.currency, grouped=True),
                    money_text(line.tax, obj.currency, grouped=True),
                    money_text(line.gross, obj.currency, grouped=True),
                )
                for line in document.tax_breakdown
            ),
        )
        return format_html(
            '<table id="credit-note-rates"><thead><tr><th>VAT rate (category)</th><th>net</th><th>VAT</th>'
            "<th>gross</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="what is credited")
    def credited_lines(self, obj: CreditNote) -> str:
        document = from_json(obj.document)
        if not document.rows:
            return "-"
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td class="amount">{}</td><td>{} %</td><td class="amount">{}</td></tr>',
            (
                (
                    row.description,
                    f"{row.quantity.normalize():f}",
                    f"{row.tax_rate.normalize():f}",
                    money_text(
                        row.gross if document.prices_gross and row.gross is not None else row.net,
                        obj.currency,
                        grouped=True,
                    ),
                )
                for row in document.rows
            ),
        )
        shown = "gross" if document.prices_gross else "net"
        return format_html(
            '<table id="credit-note-lines"><thead><tr><th>description</th><th>quantity</th><th>VAT</th>'
            "<th>amount ({})</th></tr></thead><tbody>{}</tbody></table>",
            shown,
            rows,
        )

    def _refund_of(self, obj: CreditNote) -> Refund | None:
        try:
            return obj.refund
        except ObjectDoesNotExist:
            return None

    @admin.display(description="refund")
    def refund_state(self, obj: CreditNote) -> str:
        refund = self._refund_of(obj)
        if refund is None:
            return "-"
        if refund.status == Refund.Status.NOT_REQUIRED:
            return (
                "Nothing refunded through the payment gateway: the credit note says the amount will be "
                "paid back or offset" + ("" if obj.refund_requested else " (no refund was asked for)") + "."
            )
        return str(refund.get_status_display())

    @admin.display(description="refund amount")
    def refund_amount(self, obj: CreditNote) -> str:
        refund = self._refund_of(obj)
        if refund is None or refund.status == Refund.Status.NOT_REQUIRED:
            return "-"
        return money_text(refund.amount, refund.currency, grouped=True)

    @admin.display(description="refund id (gateway)")
    def refund_id(self, obj: CreditNote) -> str:
        refund = self._refund_of(obj)
        if refund is None or refund.status == Refund.Status.NOT_REQUIRED:
            return "-"
        parts = [refund.refund_id or "-"]
        if refund.transaction_id:
            parts.append(f"transaction {refund.transaction_id}")
        return ", ".join(parts)

    @admin.display(description="gateway message")
    def refund_message(self, obj: CreditNote) -> str:
        refund = self._refund_of(obj)
        return (refund.message if refund is not None else "") or "-"

    @admin.display(description="emails")
    def emails(self, obj: CreditNote) -> str:
        deliveries = list(EmailDelivery.objects.filter(credit_note=obj).order_by("created_at"))
        if not deliveries:
            return "None yet." if obj.status != CreditNote.Status.FAILED else "None: it was not issued."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    delivery.get_status_display(),
                    delivery.recipient,
                    delivery.attempts,
                    date_format(localtime(delivery.sent_at), "DATETIME_FORMAT") if delivery.sent_at else "-",
                    delivery.error or "-",
                )
                for delivery in deliveries
            ),
        )
        return format_html(
            '<table id="credit-note-emails"><thead><tr><th>status</th><th>recipient</th><th>attempts</th>'
            "<th>sent at</th><th>error</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def _state(self, obj: CreditNote) -> Any:
        cached = getattr(obj, "_console_state", None)
        if cached is None:
            cached = credit_note_state(obj)
            obj._console_state = cached  # type: ignore[attr-defined]
        return cached

    @admin.display(description="pipeline")
    def pipeline_state(self, obj: CreditNote) -> str:
        return {"PENDING": "Running", "SUCCESS": "Done", "FAILURE": "Failed"}.get(
            self._state(obj).status, "-"
        )

    @admin.display(description="step")
    def pipeline_step(self, obj: CreditNote) -> str:
        state = self._state(obj)
        if state.status == "SUCCESS" or not state.step:
            return "-"
        return pipeline_of(JobOrder(credit_note_id=obj.pk)).label(state.step)

    @admin.display(description="message")
    def pipeline_message(self, obj: CreditNote) -> str:
        return self._state(obj).message or "-"

    @admin.display(description="pipeline job")
    def pipeline_job(self, obj: CreditNote) -> str:
        job_id = self._state(obj).job_id
        if job_id is None:
            return "-"
        url = reverse("admin:jobs_invoicejob_change", args=[job_id])
        return format_html('<a href="{}">{}</a>', url, str(job_id)[:8])

    @admin.display(description="PDF checksum (SHA-256)")
    def pdf_checksum(self, obj: CreditNote) -> str:
        return obj.pdf_sha256 or "-"

    # --- the PDF, the e-invoices and re-running the failed steps ----------------------------------------
    def get_urls(self) -> list[Any]:
        return [
            path(
                "<uuid:credit_note_id>/pdf/",
                # SAMEORIGIN: the credit note's page shows the PDF in a frame (Django's default is DENY)
                self.admin_site.admin_view(xframe_options_sameorigin(self.pdf_view)),
                name="invoicing_creditnote_pdf",
            ),
            path(
                "<uuid:credit_note_id>/einvoice/<str:fmt>/",
                self.admin_site.admin_view(self.einvoice_view),
                name="invoicing_creditnote_einvoice",
            ),
            path(
                "<uuid:credit_note_id>/rerun-failed-steps/",
                self.admin_site.admin_view(require_POST(self.rerun_view)),
                name="invoicing_creditnote_rerun",
            ),
            *super().get_urls(),
        ]

    def pdf_view(self, request: HttpRequest, credit_note_id: uuid.UUID) -> FileResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        credit_note = get_object_or_404(
            CreditNote.objects.filter(status=CreditNote.Status.ISSUED).exclude(pdf=""), pk=credit_note_id
        )
        return FileResponse(
            credit_note.pdf.open("rb"),
            as_attachment=bool(request.GET.get("download")),
            filename=credit_note_filename(credit_note),
            content_type="application/pdf",
        )

    def einvoice_view(self, request: HttpRequest, credit_note_id: uuid.UUID, fmt: str) -> HttpResponse:
        """The issued credit note as an e-invoice in `fmt` (EN 16931 credit note, BT-3 381)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if fmt not in FORMATS:
            raise Http404("Unknown e-invoice format.")
        credit_note = get_object_or_404(
            CreditNote.objects.filter(status=CreditNote.Status.ISSUED).exclude(pdf=""), pk=credit_note_id
        )
        # the same reading as an invoice's: the XML embedded in the PDF/A-3, or built from the document
        xml = invoice_einvoice_xml(credit_note, fmt)  # type: ignore[arg-type]
        response = HttpResponse(xml, content_type=EINVOICE_CONTENT_TYPE)
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=f"{credit_note.number}-{fmt}.xml".replace("/", "-")
        )
        return response

    def rerun_view(self, request: HttpRequest, credit_note_id: uuid.UUID) -> HttpResponseRedirect:
        if not request.user.has_perm(RERUN_STEPS_PERMISSION):
            raise PermissionDenied
        credit_note = get_object_or_404(CreditNote, pk=credit_note_id)
        if credit_note_resume_failed_steps(credit_note=credit_note, actor=actor_of(request)):
            messages.success(
                request,
                f"The failed steps of credit note {credit_note.number} are being run again. "
                "Reload this page to follow it.",
            )
        else:
            messages.info(
                request, f"Credit note {credit_note_label(credit_note)} has no failed steps to re-run."
            )
        return HttpResponseRedirect(reverse("admin:invoicing_creditnote_change", args=[credit_note.pk]))

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        original = context.get("original")
        credit_note = original if isinstance(original, CreditNote) else None
        failed = (
            JobOrder.objects.filter(failed_after_issue(), credit_note=credit_note).first()
            if credit_note is not None and request.user.has_perm(RERUN_STEPS_PERMISSION)
            else None
        )
        context["can_rerun"] = failed is not None
        context["failed_step"] = pipeline_of(failed).label(failed.step) if failed else ""
        issued = (
            credit_note
            if credit_note is not None and credit_note.status == CreditNote.Status.ISSUED and credit_note.pdf
            else None
        )
        context["pdf_shown"] = issued is not None
        context["pdf_filename"] = credit_note_filename(issued) if issued else ""
        # the same stored reports as an invoice's (CreditNote.einvoice_report)
        context["einvoice_outcomes"] = einvoice_outcomes(issued) if issued else []  # type: ignore[arg-type]
        return super().render_change_form(request, context, *args, **kwargs)


def credit_notes_of_invoice(invoice: Invoice) -> list[dict[str, Any]]:
    """The invoice page's table: each credit note with what an operator needs to find it."""
    rows = []
    for credit_note in invoice.credit_notes.order_by("created_at"):
        issued = credit_note.status == CreditNote.Status.ISSUED and bool(credit_note.pdf)
        rows.append(
            {
                "pk": credit_note.pk,
                "label": credit_note_label(credit_note),
                "url": reverse("admin:invoicing_creditnote_change", args=[credit_note.pk]),
                "kind": credit_note.get_kind_display(),
                "status": credit_note_status_label(credit_note),
                "failed": credit_note.status == CreditNote.Status.FAILED,
                "gross": money_text(credit_note.gross_total, credit_note.currency, grouped=True),
                "reason": credit_note.reason,
                "created_at": credit_note.created_at,
                "pdf_url": credit_note_pdf_url(credit_note) if issued else "",
                "message": credit_note.message,
            }
        )
    return rows
