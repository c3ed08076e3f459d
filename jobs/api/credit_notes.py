"""Credit notes through the API: correcting an issued invoice, and reading the correction.

- POST /invoice/{tenant}/invoices/{invoiceNumber}/credit-notes: a cancellation (no lines, no
  amounts), chosen lines and quantities, or a gross amount per VAT rate. Answers 202 at once:
  the credit note is refunded, numbered, rendered, emailed and written back by its pipeline
  (jobs.credit_notes). An `Idempotency-Key` makes a retried request answer the first one's credit
  note instead of crediting twice.
- GET /invoice/{tenant}/credit-notes/{id}: its state, amounts, refund and signed download link.
- GET /invoice/{tenant}/credit-notes/{id}/document: its PDF with a bearer token, the stable address
  written back onto the order (`mixins.invoice.creditNotes[].creditNoteDocument`).

The request body is checked here field by field (400 naming each field, as the order store does);
what only the invoice can tell (its lines, rates and what is left to credit) is the service's
CreditRefused, answered with its own status (404, 400, 409, 422).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.http_errors import ApiError
from core.money import round_money, to_decimal
from integrations.mapper import order_id_problem
from invoicing import downloads
from invoicing.documents import from_json
from invoicing.models import CreditNote, Refund
from jobs.api.parsers import BoundedJSONParser
from jobs.api.views import (
    ERRORS,
    MANAGE,
    READ,
    TENANT_PARAM,
    ErrorResponseSerializer,
    OwnFormatParameterNegotiation,
    TenantAPIView,
)
from jobs.credit_notes import CreditAmount, CreditLine, credit_note_request, credit_note_state
from jobs.models import JobOrder

# --- limits of the request body ---------------------------------------------------------------------
MAX_REASON = 500  # characters (invoicing.credit_notes.MAX_REASON)
MAX_LINES = 5000  # an order has at most 5,000 entries (README, input limits)
MAX_AMOUNTS = 100  # one per VAT rate of the invoice
MAX_QUANTITY = Decimal(10) ** 9  # as the order's quantities
MAX_AMOUNT = Decimal(10) ** 12  # as the order's amounts
QUANTITY_DECIMALS = 3  # as the order's quantities (InvoiceLine.quantity)
MAX_IDEMPOTENCY_KEY = 255  # CreditNote.idempotency_key
MAX_INVOICE_NUMBER = 100  # Invoice.number
FIELDS = ("reason", "lines", "amounts", "refund")

# The API's names of CreditNote.Kind: a FULL credit note is the invoice's cancellation.
TYPES = {
    CreditNote.Kind.FULL: "CANCELLATION",
    CreditNote.Kind.LINES: "LINES",
    CreditNote.Kind.AMOUNTS: "AMOUNTS",
}


# --- schema-only serializers (drf-spectacular); requests are checked by hand for exact messages ---
class CreditLineSerializer(serializers.Serializer):
    position = serializers.IntegerField(
        min_value=1, help_text="The invoice's line position (1, 2, … as printed)."
    )
    quantity = serializers.DecimalField(
        max_digits=13,
        decimal_places=QUANTITY_DECIMALS,
        min_value=Decimal("0.001"),
        max_value=MAX_QUANTITY,
        coerce_to_string=False,
        help_text="How many of the line to credit: above 0, at most 3 decimals, at most what is left of it.",
    )


class CreditAmountSerializer(serializers.Serializer):
    taxRate = serializers.DecimalField(
        max_digits=6,
        decimal_places=3,
        min_value=Decimal(0),
        max_value=Decimal(100),
        coerce_to_string=False,
        help_text="A VAT rate of the invoice, in percent.",
    )
    grossAmount = serializers.DecimalField(
        max_digits=17,
        decimal_places=4,
        min_value=Decimal("0.0001"),
        max_value=MAX_AMOUNT,
        coerce_to_string=False,
        help_text="The gross amount to credit at this rate: above 0, in the invoice's currency, at most what "
        "is left at that rate.",
    )


@extend_schema_serializer(component_name="CreditNote")  # the request component is then "CreditNoteRequest"
class CreditNoteRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=MAX_REASON, help_text="Why the invoice is corrected; printed on the credit note."
    )
    lines = CreditLineSerializer(
        many=True, required=False, help_text="Credit these lines and quantities (not with amounts)."
    )
    amounts = CreditAmountSerializer(
        many=True, required=False, help_text="Credit these gross amounts per VAT rate (not with lines)."
    )
    refund = serializers.BooleanField(
        default=True,
        help_text="Pay the credited amount back through the payment gateway when the invoice's payment was "
        "captured (default). false: nothing is refunded; the credit note says it is paid back or offset.",
    )


class CreditNoteCreationResponseSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The credit note's id.")
    # not an enum: the job order's orderStatus has the same values (drf-spectacular would warn)
    status = serializers.CharField(help_text="PENDING, SUCCESS or FAILURE: the state of its pipeline now.")


class CreditNoteTaxSerializer(serializers.Serializer):
    taxRate = serializers.FloatField()
    category = serializers.CharField(help_text="EN 16931 VAT category code (UNCL5305): S, Z, E, AE, K, G, O.")
    netAmount = serializers.FloatField()
    taxAmount = serializers.FloatField()
    grossAmount = serializers.FloatField()


class CreditNoteLineSerializer(serializers.Serializer):
    position = serializers.IntegerField(
        allow_null=True, help_text="The invoice line it credits; null for a row per VAT rate."
    )
    description = serializers.CharField()
    quantity = serializers.FloatField()
    netAmount = serializers.FloatField()


class CreditNoteRefundSerializer(serializers.Serializer):
    status = serializers.CharField(
        help_text="PENDING, UNKNOWN (asking the gateway), REFUNDED, DECLINED or NOT_REQUIRED (nothing is "
        "refunded through the gateway: paid back or offset by the merchant)."
    )
    amount = serializers.FloatField()
    currency = serializers.CharField()
    refundId = serializers.CharField(help_text="The gateway's id of the refund; empty until refunded.")


class CreditNoteResponseSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    invoiceNumber = serializers.CharField(help_text="The invoice it credits (EN 16931 BT-25).")
    orderId = serializers.CharField()
    type = serializers.ChoiceField(choices=list(TYPES.values()))
    # not a second enum of the same values: drf-spectacular would warn about two names for one set
    status = serializers.CharField(help_text="PENDING, SUCCESS or FAILURE: the state of its pipeline.")
    message = serializers.CharField(help_text="What happened, or why it failed.")
    creditNoteNumber = serializers.CharField(allow_null=True, help_text="Its number, once issued.")
    issueDate = serializers.DateField(allow_null=True)
    reason = serializers.CharField()
    currency = serializers.CharField()
    netAmount = serializers.FloatField()
    taxAmount = serializers.FloatField()
    grossAmount = serializers.FloatField()
    taxes = CreditNoteTaxSerializer(many=True)
    lines = CreditNoteLineSerializer(many=True)
    refund = CreditNoteRefundSerializer(allow_null=True)
    downloadLink = serializers.CharField(
        allow_null=True,
        help_text="Signed URL of the PDF, once rendered; it expires (INVOICE_DOWNLOAD_LINK_TTL).",
    )
    createdAt = serializers.DateTimeField()


INVOICE_NUMBER_PARAM = OpenApiParameter(
    "invoiceNumber",
    {"type": "string", "maxLength": MAX_INVOICE_NUMBER},
    OpenApiParameter.PATH,
    description="The number of an issued invoice.",
)
CREDIT_NOTE_ID_PARAM = OpenApiParameter(
    "id",
    {"type": "string", "format": "uuid"},
    OpenApiParameter.PATH,
    description="The credit note's id, as the POST answered it.",
)
IDEMPOTENCY_KEY_PARAM = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY, "pattern": "^[\\x20-\\x7E]+$"},
    OpenApiParameter.HEADER,
    description=(
        "Makes the request safe to retry: a request with a key this tenant used before answers the credit "
        "note of the first request (202) instead of crediting again; the same key with another request is "
        "422. 1 to 255 printable ASCII characters."
    ),
)
LOCATION_HEADER = OpenApiParameter(
    "Location",
    str,
    OpenApiParameter.HEADER,
    response=[202],
    description="The credit note's URL (GET /invoice/{tenant}/credit-notes/{id}).",
)


# --- reading the request ----------------------------------------------------------------------------
def idempotency_key_from(request: Request) -> str:
    """The Idempotency-Key header ("" without one), or a 400 ErrorResponse. Never echoed back."""
    if "idempotency-key" not in request.headers:
        return ""
    key = request.headers["Idempotency-Key"]
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not all(" " <= char <= "~" for char in key):
        raise ApiError(
            400,
            "The Idempotency-Key header is invalid.",
            f"Idempotency-Key: 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters.",
            [
                {
                    "field": "Idempotency-Key",
                    "message": f"must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters",
                }
            ],
        )
    return key


def _number(value: Any) -> Decimal | None:
    """A JSON number as an exact Decimal, or None for anything else (strings and booleans too)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return to_decimal(value)


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _lines(value: Any, errors: list[dict[str, str]]) -> list[CreditLine] | None:
    if not isinstance(value, list):
        errors.append({"field": "lines", "message": "must be an array of {position, quantity}"})
        return None
    if not value:
        errors.append({"field": "lines", "message": "must not be empty (leave it out to cancel the invoice)"})
        return None
    if len(value) > MAX_LINES:
        errors.append({"field": "lines", "message": f"must have at most {MAX_LINES} entries"})
        return None
    lines = []
    for index, item in enumerate(value):
        where = f"lines[{index}]"
        if not isinstance(item, dict):
            errors.append({"field": where, "message": "must be an object {position, quantity}"})
            continue
        position = item.get("position")
        quantity = _number(item.get("quantity"))
        ok = True
        if "position" not in item:
            errors.append({"field": f"{where}.position", "message": "is required"})
            ok = False
        elif isinstance(position, bool) or not isinstance(position, int):
            errors.append({"field": f"{where}.position", "message": "must be an integer"})
            ok = False
        elif position < 1:
            errors.append({"field": f"{where}.position", "message": "must be at least 1"})
            ok = False
        if "quantity" not in item:
            errors.append({"field": f"{where}.quantity", "message": "is required"})
            ok = False
        elif quantity is None:
            errors.append({"field": f"{where}.quantity", "message": "must be a number"})
            ok = False
        elif quantity <= 0:
            errors.append({"field": f"{where}.quantity", "message": "must be above 0"})
            ok = False
        elif quantity > MAX_QUANTITY:
            errors.append({"field": f"{where}.quantity", "message": "must be at most 1,000,000,000"})
            ok = False
        elif _decimals(quantity) > QUANTITY_DECIMALS:
            errors.append({"field": f"{where}.quantity", "message": "must have at most 3 decimals"})
            ok = False
        if ok and isinstance(position, int) and quantity is not None:
            lines.append(CreditLine(position=position, quantity=quantity))
    return lines


def _amounts(value: Any, errors: list[dict[str, str]]) -> list[CreditAmount] | None:
    if not isinstance(value, list):
        errors.append({"field": "amounts", "message": "must be an array of {taxRate, grossAmount}"})
        return None
    if not value:
        errors.append(
            {"field": "amounts", "message": "must not be empty (leave it out to cancel the invoice)"}
        )
        return None
    if len(value) > MAX_AMOUNTS:
        errors.append({"field": "amounts", "message": f"must have at most {MAX_AMOUNTS} entries"})
        return None
    amounts = []
    for index, item in enumerate(value):
        where = f"amounts[{index}]"
        if not isinstance(item, dict):
            errors.append({"field": where, "message": "must be an object {taxRate, grossAmount}"})
            continue
        rate = _number(item.get("taxRate"))
        gross = _number(item.get("grossAmount"))
        ok = True
        if "taxRate" not in item:
            errors.append({"field": f"{where}.taxRate", "message": "is required"})
            ok = False
        elif rate is None:
            errors.append({"field": f"{where}.taxRate", "message": "must be a number"})
            ok = False
        elif not 0 <= rate <= 100:
            errors.append({"field": f"{where}.taxRate", "message": "must be from 0 to 100"})
            ok = False
        if "grossAmount" not in item:
            errors.append({"field": f"{where}.grossAmount", "message": "is required"})
            ok = False
        elif gross is None:
            errors.append({"field": f"{where}.grossAmount", "message": "must be a number"})
            ok = False
        elif gross <= 0:
            errors.append({"field": f"{where}.grossAmount", "message": "must be above 0"})
            ok = False
        elif gross > MAX_AMOUNT:
            errors.append({"field": f"{where}.grossAmount", "message": "must be at most 1,000,000,000,000"})
            ok = False
        if ok and rate is not None and gross is not None:
            amounts.append(CreditAmount(tax_rate=rate, gross_amount=gross))
    return amounts


def parse_credit_note_request(
    data: dict[str, Any],
) -> tuple[str, list[CreditLine] | None, list[CreditAmount] | None, bool]:
    """(reason, lines, amounts, refund) of a POST body, or a 400 naming every field at fault.

    Fields the contract does not name are ignored, as the job POST ignores them.
    """
    errors: list[dict[str, str]] = []
    reason = data.get("reason")
    if reason is None:
        errors.append({"field": "reason", "message": "is required"})
    elif not isinstance(reason, str):
        errors.append({"field": "reason", "message": "must be a string"})
    elif not reason.strip():
        errors.append({"field": "reason", "message": "must not be blank"})
    elif len(reason.strip()) > MAX_REASON:
        errors.append({"field": "reason", "message": f"must be at most {MAX_REASON} characters"})
    lines = amounts = None
    if "lines" in data and "amounts" in data:
        errors.append(
            {
                "field": "lines",
                "message": "give either lines or amounts, not both (neither cancels the invoice)",
            }
        )
    elif "lines" in data:
        lines = _lines(data["lines"], errors)
    elif "amounts" in data:
        amounts = _amounts(data["amounts"], errors)
    refund = data.get("refund", True)
    if not isinstance(refund, bool):
        errors.append({"field": "refund", "message": "must be true or false"})
    if errors:
        raise ApiError(400, "The credit note request is invalid.", errors=errors)
    assert isinstance(reason, str)
    return reason, lines, amounts, bool(refund)


# --- answering ---------------------------------------------------------------------------------------
def money(amount: Decimal | None, currency: str) -> Decimal | None:
    """An amount as the API answers it: a JSON number rounded to the currency (the renderer writes it)."""
    return None if amount is None else round_money(amount, currency)


def credit_note_states(credit_notes: Iterable[CreditNote]) -> dict[uuid.UUID, str]:
    """Each credit note's pipeline status in one query (what credit_note_state says of each)."""
    notes = list(credit_notes)
    latest: dict[uuid.UUID, str] = {}
    rows = (
        JobOrder.objects.filter(credit_note__in=[note.pk for note in notes])
        .order_by("credit_note_id", "-pk")
        .values_list("credit_note_id", "status")
    )
    for credit_note_id, row_status in rows:
        latest.setdefault(credit_note_id, row_status)
    return {
        note.pk: latest.get(note.pk) or ("FAILURE" if note.status == CreditNote.Status.FAILED else "PENDING")
        for note in notes
    }


def absolute(path: str, request: Request) -> str:
    """An absolute URL of ours: PUBLIC_BASE_URL when set, else the request's (checked) host."""
    return (settings.PUBLIC_BASE_URL or request.build_absolute_uri("/").rstrip("/")) + path


def credit_note_url(credit_note: CreditNote, request: Request) -> str:
    path = reverse("credit-note", kwargs={"tenant": credit_note.tenant.code, "pk": credit_note.pk})
    return absolute(path, request)


def _positions(credit_note: CreditNote, rows: tuple[Any, ...]) -> list[int | None]:
    """The invoice line each row of the credit note credits (None: a row per VAT rate)."""
    if credit_note.kind == CreditNote.Kind.LINES:
        asked = [line.get("position") for line in credit_note.request.get("lines") or []]
        if len(asked) == len(rows):
            return [int(position) if isinstance(position, int) else None for position in asked]
    if credit_note.kind == CreditNote.Kind.FULL and rows == from_json(credit_note.invoice.document).rows:
        return list(range(1, len(rows) + 1))  # a cancellation of an untouched invoice mirrors its lines
    return [None] * len(rows)


def credit_note_json(credit_note: CreditNote, request: Request) -> dict[str, Any]:
    state = credit_note_state(credit_note)
    document = from_json(credit_note.document)
    currency = credit_note.currency
    issued = credit_note.status == CreditNote.Status.ISSUED
    refund = Refund.objects.filter(credit_note=credit_note).first()
    positions = _positions(credit_note, document.rows)
    return {
        "id": str(credit_note.pk),
        "invoiceNumber": credit_note.invoice.number,
        "orderId": credit_note.invoice.order_id,
        "type": TYPES[CreditNote.Kind(credit_note.kind)],
        "status": state.status,
        "message": state.message,
        "creditNoteNumber": credit_note.number if issued else None,
        "issueDate": credit_note.issue_date.isoformat() if issued and credit_note.issue_date else None,
        "reason": credit_note.reason,
        "currency": currency,
        "netAmount": money(credit_note.net_total, currency),
        "taxAmount": money(credit_note.tax_total, currency),
        "grossAmount": money(credit_note.gross_total, currency),
        "taxes": [
            {
                "taxRate": line.rate,
                "category": line.category,
                "netAmount": money(line.net, currency),
                "taxAmount": money(line.tax, currency),
                "grossAmount": money(line.gross, currency),
            }
            for line in document.tax_breakdown
        ],
        "lines": [
            {
                "position": position,
                "description": row.description,
                "quantity": row.quantity,
                "netAmount": money(row.net, currency),
            }
            for position, row in zip(positions, document.rows, strict=True)
        ],
        "refund": None
        if refund is None
        else {
            "status": refund.status,
            "amount": money(refund.amount, refund.currency or currency),
            "currency": refund.currency,
            "refundId": refund.refund_id,
        },
        "downloadLink": downloads.credit_note_download_link_for(
            credit_note, base_url=request.build_absolute_uri("/")
        )
        if issued and credit_note.pdf
        else None,
        "createdAt": credit_note.created_at.isoformat(),
    }


def credit_note_of_tenant(view: TenantAPIView, pk: str) -> CreditNote | None:
    try:
        credit_note_id = uuid.UUID(pk)
    except ValueError:
        return None
    return (
        CreditNote.objects.select_related("invoice", "tenant")
        .filter(tenant=view.tenant, pk=credit_note_id)
        .first()
    )


# --- the views ---------------------------------------------------------------------------------------
class CreditNoteCollectionView(TenantAPIView):
    """POST /invoice/{tenant}/invoices/{invoiceNumber}/credit-notes: correct an issued invoice."""

    required_scopes = {"POST": {MANAGE}}
    parser_classes = [BoundedJSONParser]
    upstream_failure = "The credit note could not be requested"

    @extend_schema(
        operation_id="POST-invoice-create-credit-note",
        summary="Cancelling an issued invoice or crediting part of it (a credit note)",
        description=(
            "Without `lines` and `amounts` the credit note cancels the invoice: it credits everything not "
            "credited yet. With `lines` it credits those positions and quantities; with `amounts` a gross "
            "amount per VAT rate (e.g. a goodwill discount). Answers 202 at once: the credit note is then "
            "refunded (when the invoice's payment was captured and `refund` is not false), numbered from the "
            "tenant's credit note series, rendered, emailed and written back onto the order. Poll its "
            "Location. Nothing is reserved or created for a request answered 4xx."
        ),
        tags=["Credit notes"],
        parameters=[TENANT_PARAM, INVOICE_NUMBER_PARAM, IDEMPOTENCY_KEY_PARAM, LOCATION_HEADER],
        request=CreditNoteRequestSerializer,
        responses={
            202: CreditNoteCreationResponseSerializer,
            **ERRORS,
            400: OpenApiResponse(
                ErrorResponseSerializer,
                description="A field of the body or the Idempotency-Key is invalid, or the invoice has no such "
                "line or VAT rate.",
            ),
            404: OpenApiResponse(
                ErrorResponseSerializer, description="No issued invoice of this tenant has this number."
            ),
            409: OpenApiResponse(
                ErrorResponseSerializer,
                description="More than is left to credit (also when a concurrent credit note took it), the "
                "invoice is cancelled already, or the payment holds less than the refund.",
            ),
            422: OpenApiResponse(
                ErrorResponseSerializer,
                description="The Idempotency-Key was used before for another request.",
            ),
        },
    )
    def post(self, request: Request, tenant: str, invoiceNumber: str) -> Response:
        key = idempotency_key_from(request)
        reason, lines, amounts, refund = parse_credit_note_request(self.json_object(request))
        # As the document endpoints: no invoice number is longer or has control characters.
        if order_id_problem(invoiceNumber) or len(invoiceNumber) > MAX_INVOICE_NUMBER:
            raise ApiError(404, "Invoice not found.")
        credit_note, _created = credit_note_request(
            tenant=self.tenant,
            invoice_number=invoiceNumber,
            reason=reason,
            lines=lines,
            amounts=amounts,
            refund=refund,
            idempotency_key=key,
            actor=str(request.user),
        )
        return Response(
            {"id": str(credit_note.pk), "status": credit_note_state(credit_note).status},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": credit_note_url(credit_note, request)},
        )


class CreditNoteDetailView(TenantAPIView):
    """GET /invoice/{tenant}/credit-notes/{id}: a credit note, as its pipeline has got it so far."""

    required_scopes = {"GET": {MANAGE, READ}}

    @extend_schema(
        operation_id="GET-invoice-retrieve-credit-note",
        summary="Returning a credit note: its state, amounts, refund and PDF link",
        tags=["Credit notes"],
        parameters=[TENANT_PARAM, CREDIT_NOTE_ID_PARAM],
        responses={
            200: CreditNoteResponseSerializer,
            **ERRORS,
            404: OpenApiResponse(
                ErrorResponseSerializer, description="No credit note of this tenant has this id."
            ),
        },
    )
    def get(self, request: Request, tenant: str, pk: str) -> Response:
        credit_note = credit_note_of_tenant(self, pk)
        if credit_note is None:
            raise ApiError(404, f"Credit note {pk[:40]} not found.")
        return Response(credit_note_json(credit_note, request))


class CreditNoteDocumentView(TenantAPIView):
    """GET /invoice/{tenant}/credit-notes/{id}/document: the PDF, with a bearer token.

    The stable address written back onto the order, unlike the downloadLink, which needs no token
    but expires. 404 until the credit note is issued and rendered.
    """

    required_scopes = {"GET": {MANAGE, READ}}
    content_negotiation_class = OwnFormatParameterNegotiation

    @extend_schema(
        operation_id="GET-invoice-credit-note-document",
        summary="Downloading an issued credit note's PDF",
        tags=["Credit notes"],
        parameters=[TENANT_PARAM, CREDIT_NOTE_ID_PARAM],
        responses={
            (200, "application/pdf"): bytes,
            **ERRORS,
            404: OpenApiResponse(
                ErrorResponseSerializer,
                description="No credit note of this tenant has this id, or it has no PDF yet.",
            ),
        },
    )
    def get(self, request: Request, tenant: str, pk: str) -> FileResponse:
        credit_note = credit_note_of_tenant(self, pk)
        if credit_note is None:
            raise ApiError(404, f"Credit note {pk[:40]} not found.")
        if credit_note.status != CreditNote.Status.ISSUED or not credit_note.pdf:
            raise ApiError(404, f"Credit note {pk} has no PDF yet.", "Read the credit note for its state.")
        return FileResponse(
            credit_note.pdf.open("rb"),
            as_attachment=True,
            filename=f"credit-note-{credit_note.number}.pdf",
            content_type="application/pdf",
        )
