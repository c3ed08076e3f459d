"""Issued invoices through the API: one by its number, and the tenant's list.

- GET /invoice/{tenant}/invoices/{invoiceNumber}: the invoice, what its credit notes credited and
  what is left to credit, its credit notes and a signed download link of its PDF.
- GET /invoice/{tenant}/invoices?orderId=&issuedFrom=&issuedTo=&pageNumber=&pageSize=: issued
  invoices, newest first, in pages (Emporix's pageNumber/pageSize; the total in X-Total-Count).

A cancelled invoice (credit notes cover its whole gross) stays listed with status CANCELLED; its
order may then have a newer invoice with another number.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.db.models import F, Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.http_errors import ApiError
from integrations.mapper import order_id_problem
from invoicing import downloads
from invoicing.credit_notes import invoice_balance
from invoicing.models import CreditNote, Invoice
from jobs.api.credit_notes import (
    INVOICE_NUMBER_PARAM,
    MAX_INVOICE_NUMBER,
    TYPES,
    credit_note_states,
    money,
)
from jobs.api.views import ERRORS, MANAGE, READ, TENANT_PARAM, ErrorResponseSerializer, TenantAPIView

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_SHOWN = 40  # a query value longer than this is not echoed in an error message


# --- schema-only serializers -------------------------------------------------------------------------
class InvoiceCreditNoteSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    creditNoteNumber = serializers.CharField(allow_null=True)
    status = serializers.CharField(help_text="PENDING, SUCCESS or FAILURE: the state of its pipeline.")
    type = serializers.CharField(help_text="CANCELLATION, LINES or AMOUNTS.")
    grossAmount = serializers.FloatField()
    reason = serializers.CharField()
    issueDate = serializers.DateField(allow_null=True)


class InvoiceResponseSerializer(serializers.Serializer):
    invoiceNumber = serializers.CharField()
    orderId = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["ISSUED", "CANCELLED"],
        help_text="CANCELLED: issued credit notes cover its whole gross amount.",
    )
    issueDate = serializers.DateField()
    currency = serializers.CharField()
    netAmount = serializers.FloatField()
    taxAmount = serializers.FloatField()
    grossAmount = serializers.FloatField()
    creditedAmount = serializers.FloatField(help_text="The gross of its issued credit notes.")
    pendingAmount = serializers.FloatField(
        help_text="The gross of credit notes requested and not issued yet (reserved; given back if one fails)."
    )
    remainingAmount = serializers.FloatField(
        help_text="What can still be credited: grossAmount - creditedAmount - pendingAmount."
    )
    creditNotes = InvoiceCreditNoteSerializer(many=True)
    downloadLink = serializers.CharField(
        allow_null=True, help_text="Signed URL of the invoice PDF; it expires (INVOICE_DOWNLOAD_LINK_TTL)."
    )


X_TOTAL_COUNT = OpenApiParameter(
    "X-Total-Count",
    int,
    OpenApiParameter.HEADER,
    response=[200],
    description="How many invoices match the filters, on all pages.",
)
LIST_PARAMS = [
    OpenApiParameter("orderId", str, OpenApiParameter.QUERY, description="Only the invoices of this order."),
    OpenApiParameter(
        "issuedFrom",
        {"type": "string", "format": "date"},
        OpenApiParameter.QUERY,
        description="Only invoices issued on this day (YYYY-MM-DD, the seller's date) or later.",
    ),
    OpenApiParameter(
        "issuedTo",
        {"type": "string", "format": "date"},
        OpenApiParameter.QUERY,
        description="Only invoices issued on this day (YYYY-MM-DD) or earlier.",
    ),
    OpenApiParameter(
        "pageNumber",
        {"type": "integer", "minimum": 1, "default": 1},
        OpenApiParameter.QUERY,
        description="The page, from 1.",
    ),
    OpenApiParameter(
        "pageSize",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE},
        OpenApiParameter.QUERY,
        description="Invoices per page.",
    ),
]


# --- answering ---------------------------------------------------------------------------------------
def issued_invoices(tenant: Any) -> QuerySet[Invoice]:
    return (
        Invoice.objects.filter(tenant=tenant, status=Invoice.Status.ISSUED)
        .select_related("tenant")
        .prefetch_related(Prefetch("credit_notes", queryset=CreditNote.objects.order_by("created_at", "pk")))
    )


def invoices_json(invoices: list[Invoice], request: Request) -> list[dict[str, Any]]:
    notes = [note for invoice in invoices for note in invoice.credit_notes.all()]
    states = credit_note_states(notes)
    base_url = request.build_absolute_uri("/")
    return [_invoice_json(invoice, states, base_url) for invoice in invoices]


def _invoice_json(invoice: Invoice, states: dict[Any, str], base_url: str) -> dict[str, Any]:
    currency = invoice.currency
    balance = invoice_balance(invoice)
    return {
        "invoiceNumber": invoice.number,
        "orderId": invoice.order_id,
        "status": "CANCELLED" if invoice.cancelled_at is not None else "ISSUED",
        "issueDate": invoice.issue_date.isoformat() if invoice.issue_date else None,
        "currency": currency,
        "netAmount": money(invoice.net_total, currency),
        "taxAmount": money(invoice.tax_total, currency),
        "grossAmount": money(invoice.gross_total, currency),
        "creditedAmount": money(balance.credited, currency),
        "pendingAmount": money(balance.pending, currency),
        "remainingAmount": money(max(balance.remaining, Decimal(0)), currency),
        "creditNotes": [
            {
                "id": str(note.pk),
                "creditNoteNumber": note.number if note.status == CreditNote.Status.ISSUED else None,
                "status": states[note.pk],
                "type": TYPES[CreditNote.Kind(note.kind)],
                "grossAmount": money(note.gross_total, note.currency),
                "reason": note.reason,
                "issueDate": note.issue_date.isoformat()
                if note.status == CreditNote.Status.ISSUED and note.issue_date
                else None,
            }
            for note in invoice.credit_notes.all()
        ],
        "downloadLink": downloads.download_link_for(invoice, base_url=base_url) if invoice.pdf else None,
    }


# --- the query of the list ---------------------------------------------------------------------------
def _one(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise ApiError(400, f"The query parameter {name} is given more than once.")
    return values[0] if values else None


def _shown(value: str) -> str:
    return repr(value) if len(value) <= MAX_SHOWN and value.isprintable() else "given"


def _date(request: Request, name: str) -> dt.date | None:
    value = _one(request, name)
    if value is None:
        return None
    try:
        if not ISO_DATE.fullmatch(value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ApiError(
            400,
            f"The query parameter {name} is not a date: {_shown(value)}.",
            f"{name}: YYYY-MM-DD, e.g. 2026-01-31.",
        ) from None


def _int(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    value = _one(request, name)
    if value is None:
        return default
    limits = f"{name}: an integer from {low}" + (f" to {high}." if high is not None else " up.")
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise ApiError(400, f"The query parameter {name} is not a whole number: {_shown(value)}.", limits)
    number = int(value)
    if number < low or (high is not None and number > high):
        raise ApiError(400, f"The query parameter {name} is out of range: {number}.", limits)
    return number


# --- the views ---------------------------------------------------------------------------------------
class InvoiceDetailView(TenantAPIView):
    """GET /invoice/{tenant}/invoices/{invoiceNumber}: an issued invoice and its credit notes."""

    required_scopes = {"GET": {MANAGE, READ}}

    @extend_schema(
        operation_id="GET-invoice-retrieve-invoice",
        summary="Returning an issued invoice with its credit notes and what is left to credit",
        tags=["Invoices"],
        parameters=[TENANT_PARAM, INVOICE_NUMBER_PARAM],
        responses={
            200: InvoiceResponseSerializer,
            **ERRORS,
            404: OpenApiResponse(
                ErrorResponseSerializer, description="No issued invoice of this tenant has this number."
            ),
        },
    )
    def get(self, request: Request, tenant: str, invoiceNumber: str) -> Response:
        # As the document endpoints: no invoice number is longer or has control characters.
        if order_id_problem(invoiceNumber) or len(invoiceNumber) > MAX_INVOICE_NUMBER:
            raise ApiError(404, "Invoice not found.")
        invoice = issued_invoices(self.tenant).filter(number=invoiceNumber).first()
        if invoice is None:
            raise ApiError(404, f"Invoice {invoiceNumber} not found.")
        return Response(invoices_json([invoice], request)[0])


class InvoiceCollectionView(TenantAPIView):
    """GET /invoice/{tenant}/invoices: the tenant's issued invoices, newest first, in pages."""

    required_scopes = {"GET": {MANAGE, READ}}

    @extend_schema(
        operation_id="GET-invoice-list-invoices",
        summary="Listing issued invoices, newest first",
        description=(
            "Drafts are never listed; a cancelled invoice is (status CANCELLED). The order is the time of "
            "issue, newest first. X-Total-Count tells how many match on all pages."
        ),
        tags=["Invoices"],
        parameters=[TENANT_PARAM, *LIST_PARAMS, X_TOTAL_COUNT],
        responses={
            200: InvoiceResponseSerializer(many=True),
            **ERRORS,
            400: OpenApiResponse(
                ErrorResponseSerializer, description="A query parameter is malformed or out of range."
            ),
        },
    )
    def get(self, request: Request, tenant: str) -> Response:
        order_id = _one(request, "orderId")
        issued_from = _date(request, "issuedFrom")
        issued_to = _date(request, "issuedTo")
        page_number = _int(request, "pageNumber", 1, 1, None)
        page_size = _int(request, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        invoices = issued_invoices(self.tenant)
        if order_id is not None:
            problem = order_id_problem(order_id)
            if problem:
                raise ApiError(400, f"The query parameter orderId {problem}.", f"orderId: {problem}")
            invoices = invoices.filter(order_id=order_id)
        if issued_from is not None and issued_to is not None and issued_from > issued_to:
            raise ApiError(
                400,
                "issuedFrom is after issuedTo.",
                f"issuedFrom {issued_from.isoformat()}, issuedTo {issued_to.isoformat()}.",
            )
        if issued_from is not None:
            invoices = invoices.filter(issue_date__gte=issued_from)
        if issued_to is not None:
            invoices = invoices.filter(issue_date__lte=issued_to)
        total = invoices.count()
        start = (page_number - 1) * page_size
        page = list(invoices.order_by(F("issued_at").desc(nulls_last=True), "-id")[start : start + page_size])
        return Response(invoices_json(page, request), headers={"X-Total-Count": str(total)})
